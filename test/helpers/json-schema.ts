/**
 * A small JSON Schema (2020-12) checker for the keywords z.toJSONSchema emits, with `$ref`s
 * resolved in one root document. A keyword it does not know is an error, never a silent pass.
 * (ajv is only a transitive dependency here; see test/api/openapi.test.ts.)
 */
type Schema = Record<string, unknown>;

/** Keywords that only annotate. */
const ANNOTATIONS = new Set([
  'description',
  'title',
  'default',
  'examples',
  'format',
  'deprecated',
]);

const typeOf = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && Number.isInteger(v)
        ? 'integer'
        : typeof v;

const isType = (v: unknown, t: string): boolean =>
  t === 'number' ? typeof v === 'number' : typeOf(v) === t;

/** Resolves a local `#/a/b` pointer in `root`; throws when nothing is there. */
export function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) {
    throw new Error(`only local $refs are supported: ${ref}`);
  }
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`$ref ${ref} does not resolve`);
    }
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** Every `$ref` value anywhere in `node`. */
export function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    node.forEach((n) => collectRefs(n, out));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') {
        out.push(v);
      } else {
        collectRefs(v, out);
      }
    }
  }
  return out;
}

/** The problems of `value` against `schema` (empty: valid), each with its JSON path. */
export function validate(root: unknown, schema: unknown, value: unknown, at = '$'): string[] {
  if (schema === true || (schema && typeof schema === 'object' && !Object.keys(schema).length)) {
    return [];
  }
  if (schema === false) {
    return [`${at}: not allowed`];
  }
  const s = schema as Schema;
  const errs: string[] = [];
  const sub = (sch: unknown, v: unknown, p: string) => validate(root, sch, v, p);
  for (const [key, arg] of Object.entries(s)) {
    if (ANNOTATIONS.has(key)) {
      continue;
    }
    const a = arg as never;
    switch (key) {
      case '$ref':
        errs.push(...sub(resolvePointer(root, a), value, at));
        break;
      case 'type': {
        const types = Array.isArray(a) ? (a as string[]) : [a as string];
        if (!types.some((t) => isType(value, t))) {
          errs.push(`${at}: ${typeOf(value)} is not ${types.join('|')}`);
        }
        break;
      }
      case 'const':
        if (JSON.stringify(value) !== JSON.stringify(a)) {
          errs.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(a)}`);
        }
        break;
      case 'enum':
        if (!(a as unknown[]).some((e) => JSON.stringify(e) === JSON.stringify(value))) {
          errs.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(a)}`);
        }
        break;
      case 'anyOf':
      case 'oneOf': {
        const passing = (a as unknown[]).filter((x) => !sub(x, value, at).length).length;
        if (key === 'anyOf' ? passing === 0 : passing !== 1) {
          errs.push(`${at}: ${passing} of the ${key} alternatives match`);
        }
        break;
      }
      case 'allOf':
        (a as unknown[]).forEach((x) => errs.push(...sub(x, value, at)));
        break;
      default:
        errs.push(...checkKeyword(key, a, s, value, at, sub));
    }
  }
  return errs;
}

/** Object, array, string and number keywords (each applies only to its own type). */
function checkKeyword(
  key: string,
  a: never,
  s: Schema,
  value: unknown,
  at: string,
  sub: (sch: unknown, v: unknown, p: string) => string[],
): string[] {
  const obj = typeOf(value) === 'object' ? (value as Record<string, unknown>) : undefined;
  const str = typeof value === 'string' ? value : undefined;
  const num = typeof value === 'number' ? value : undefined;
  const errs: string[] = [];
  switch (key) {
    case 'properties':
      for (const [k, v] of Object.entries(obj ?? {})) {
        if (k in (a as Schema)) {
          errs.push(...sub((a as Schema)[k], v, `${at}.${k}`));
        }
      }
      return errs;
    case 'required':
      return obj
        ? (a as string[]).filter((k) => !(k in obj)).map((k) => `${at}.${k}: missing`)
        : [];
    case 'additionalProperties':
      for (const [k, v] of Object.entries(obj ?? {})) {
        if (!(k in ((s.properties as Schema) ?? {}))) {
          errs.push(
            ...sub(a, v, `${at}.${k}`).map((e) => (a === false ? `${at}.${k}: not allowed` : e)),
          );
        }
      }
      return errs;
    case 'propertyNames':
      return Object.keys(obj ?? {}).flatMap((k) => sub(a, k, `${at}{${k}}`));
    case 'items':
      return Array.isArray(value) ? value.flatMap((v, i) => sub(a, v, `${at}[${i}]`)) : [];
    case 'minItems':
    case 'maxItems': {
      const n = Array.isArray(value) ? value.length : undefined;
      const bad = n !== undefined && (key === 'minItems' ? n < a : n > a);
      return bad ? [`${at}: ${n} items (${key} ${a})`] : [];
    }
    case 'pattern':
      return str !== undefined && !new RegExp(a, 'u').test(str)
        ? [`${at}: "${str}" !~ /${a}/`]
        : [];
    case 'minLength':
    case 'maxLength': {
      const n = str === undefined ? undefined : [...str].length;
      const bad = n !== undefined && (key === 'minLength' ? n < a : n > a);
      return bad ? [`${at}: length ${n} (${key} ${a})`] : [];
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const ok =
        num === undefined ||
        {
          minimum: num >= a,
          maximum: num <= a,
          exclusiveMinimum: num > a,
          exclusiveMaximum: num < a,
        }[key];
      return ok ? [] : [`${at}: ${num} (${key} ${a})`];
    }
    default:
      throw new Error(`json-schema checker: unsupported keyword "${key}" at ${at}`);
  }
}
