/** Option checks shared by the policies: misconfiguration fails at construction, not under load. */
export function positive(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be > 0, got ${value}`);
  return value;
}

export function nonNegative(name: string, value: number): number {
  if (!(value >= 0)) throw new RangeError(`${name} must be >= 0, got ${value}`);
  return value;
}

export function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer >= 1, got ${value}`);
  return value;
}

export function ratio(name: string, value: number): number {
  if (!(value > 0 && value <= 1)) throw new RangeError(`${name} must be in (0, 1], got ${value}`);
  return value;
}
