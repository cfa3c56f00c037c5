import { getMetadataStorage, ValidationTypes, type ValidationArguments } from 'class-validator';

// Where class-transformer keeps `@Type` (the same storage plainToInstance reads). The package has
// no exports map and ships this module's types under types/.
const { defaultMetadataStorage } = require('class-transformer/cjs/storage') as typeof import('class-transformer/types/storage');

/**
 * A DTO's class-validator rules, compiled once into a plain function that answers one question:
 * would `plainToInstance` + `validateSync` (whitelist, forbidNonWhitelisted, forbidUnknownValues,
 * no groups) find no error in this parsed JSON body?
 *
 * Why: on the prediction hot path the general executor costs ~20 µs per transaction (it builds
 * a ValidationError per property, filters the metadata on every call, and class-transformer
 * copies every object first); the predicates themselves cost ~2 µs. This calls class-validator's
 * own constraint instances with the DTO's own constraints (so `@IsISO8601`, `@Matches`, custom
 * decorators mean exactly what they mean there) and only re-does the executor's control flow:
 * conditional (`@IsOptional`), per-item (`each`), nested (`@ValidateNested` + class-transformer's
 * `@Type`), and the whitelist.
 *
 * The answer is only ever used to skip the general path for bodies it accepts: `false` means "let
 * class-validator decide and word the errors", so a rejection here can never reject a valid body.
 * Anything the compiler does not cover (groups, async or promise validation, schema targets, a
 * nested property without `@Type`) makes it return `undefined` for that DTO, which then always
 * takes the general path. `fast-acceptance.spec.ts` checks both paths agree on many thousands of
 * generated bodies for every DTO the services validate.
 */
export type AcceptanceCheck = (body: Record<string, unknown>) => boolean;

type ValueCheck = (object: object, value: unknown) => boolean;

/** A DTO class, as class-validator and class-transformer key their metadata. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- the libraries' own key type
type DtoClass = Function;

interface ConstraintInstance {
  validate(value: unknown, args: ValidationArguments): unknown;
}

const compiled = new WeakMap<DtoClass, AcceptanceCheck | null>();

class NotCompilable extends Error {}

const isCollection = (v: unknown): v is unknown[] | Set<unknown> | Map<unknown, unknown> => Array.isArray(v) || v instanceof Set || v instanceof Map;
const itemsOf = (v: unknown[] | Set<unknown> | Map<unknown, unknown>): unknown[] => (Array.isArray(v) ? v : [...v.values()]);

/** The compiled check for `dto`, or undefined when it can only be validated the general way. */
export function acceptanceCheck(dto: DtoClass): AcceptanceCheck | undefined {
  let check = compiled.get(dto);
  if (check === undefined) {
    try {
      check = compileClass(dto, new Map());
    } catch (e) {
      if (!(e instanceof NotCompilable)) throw e;
      check = null;
    }
    compiled.set(dto, check);
  }
  return check ?? undefined;
}

function compileClass(dto: DtoClass, inProgress: Map<DtoClass, AcceptanceCheck>): AcceptanceCheck {
  const existing = inProgress.get(dto);
  if (existing) return existing;
  const storage = getMetadataStorage();
  const metadatas = storage.getTargetValidationMetadatas(dto, '', false, false, undefined);
  // forbidUnknownValues: a class without rules is an error there; leave the wording to it.
  if (metadatas.length === 0) throw new NotCompilable();
  const byProperty = new Map<string, typeof metadatas>();
  for (const m of metadatas) {
    if (typeof m.target !== 'function' || (m.groups && m.groups.length > 0) || m.always) throw new NotCompilable();
    const list = byProperty.get(m.propertyName);
    if (list) list.push(m);
    else byProperty.set(m.propertyName, [m]);
  }

  let checks: Array<[string, ValueCheck]> = [];
  const self: AcceptanceCheck = (body) => {
    for (const key in body) if (!byProperty.has(key)) return false;
    for (let i = 0; i < checks.length; i++) {
      const [property, check] = checks[i];
      if (!check(body, body[property])) return false;
    }
    return true;
  };
  inProgress.set(dto, self);

  checks = [...byProperty].map(([property, list]) => {
    const conditions: Array<(object: object, value: unknown) => boolean> = [];
    const custom: ValueCheck[] = [];
    const nested: typeof list = [];
    for (const m of list) {
      switch (m.type) {
        case ValidationTypes.CONDITIONAL_VALIDATION:
          conditions.push(m.constraints[0]);
          break;
        case ValidationTypes.CUSTOM_VALIDATION:
        case ValidationTypes.IS_DEFINED:
          custom.push(compileCustom(m, storage));
          break;
        case ValidationTypes.NESTED_VALIDATION:
          nested.push(m);
          break;
        case ValidationTypes.WHITELIST:
          break; // @Allow: the property may exist, nothing more
        default:
          throw new NotCompilable(); // promise validation and anything newer
      }
    }
    const nestedCheck = nested.length ? compileNested(dto, property, inProgress) : undefined;
    const check: ValueCheck = (object, value) => {
      for (const condition of conditions) if (!condition(object, value)) return true;
      for (const c of custom) if (!c(object, value)) return false;
      return nestedCheck === undefined || nestedCheck(object, value);
    };
    return [property, check];
  });
  return self;
}

function compileCustom(m: ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number], storage: ReturnType<typeof getMetadataStorage>): ValueCheck {
  const constraints = storage.getTargetValidatorConstraints(m.constraintCls);
  if (constraints.length === 0 || constraints.some((c) => c.async)) throw new NotCompilable();
  const instances = constraints.map((c) => c.instance as ConstraintInstance);
  const validateIf = m.validateIf;
  const targetName = (m.target as DtoClass).name;
  const valid = (result: unknown) => result === true || (result !== false && typeof (result as Promise<unknown>)?.then !== 'function' && Boolean(result));
  return (object, value) => {
    if (validateIf && !validateIf(object, value)) return true;
    const args: ValidationArguments = { targetName, property: m.propertyName, object, value, constraints: m.constraints };
    for (const instance of instances) {
      if (!m.each || !isCollection(value)) {
        if (!valid(instance.validate(value, args))) return false;
      } else {
        for (const item of itemsOf(value)) if (!valid(instance.validate(item, args))) return false;
      }
    }
    return true;
  };
}

/**
 * `@ValidateNested`: undefined passes; a collection's items are each checked (recursively); an
 * object is checked against the class `@Type` names; anything else is an error.
 */
function compileNested(dto: DtoClass, property: string, inProgress: Map<DtoClass, AcceptanceCheck>): ValueCheck {
  const type = defaultMetadataStorage.findTypeMetadata(dto, property);
  if (!type || type.options?.discriminator) throw new NotCompilable();
  const target = type.typeFunction();
  if (typeof target !== 'function' || target === Object || target === Array) throw new NotCompilable();
  const ofClass = compileClass(target, inProgress);
  const item = (value: unknown): boolean => {
    if (isCollection(value)) {
      for (const v of itemsOf(value)) if (!item(v)) return false;
      return true;
    }
    if (value === null || typeof value !== 'object') return false;
    // plainToInstance would make a class instance of a plain object; anything else keeps its own
    // constructor and is judged by that class's rules there.
    // (a plain object: its prototype is the root of the chain, in whichever realm parsed it)
    const proto = Object.getPrototypeOf(value);
    if (proto !== null && Object.getPrototypeOf(proto) !== null) return false;
    return ofClass(value as Record<string, unknown>);
  };
  return (_object, value) => value === undefined || item(value);
}
