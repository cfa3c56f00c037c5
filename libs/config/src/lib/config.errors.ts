/** Thrown at boot when an environment variable is missing or malformed. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`Invalid configuration: ${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

export const isConfigError = (e: unknown): e is ConfigError => e instanceof ConfigError;
