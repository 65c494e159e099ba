/**
 * A strict parser for Python literals (what `repr()` of dicts, lists, tuples, strings, numbers,
 * booleans and None prints), the syntax of the 2014 Amazon metadata dumps. It accepts what
 * `ast.literal_eval` accepts for these types, returns plain JS values and never evaluates code.
 *
 * Mapping: dict -> object, list and tuple -> array, str and bytes -> string, int and float ->
 * number (ints beyond 2^53 lose precision), True/False -> boolean, None -> null.
 *
 * Differences from Python, all deliberate:
 * - Non-ASCII bytes written as escapes (\xNN, octal) in strings without a `u` prefix are
 *   decoded as UTF-8 when they form valid UTF-8, else as U+00NN: the dumps were printed by
 *   Python 2, whose plain strings are UTF-8 bytes ('caf\xc3\xa9' means "café"), and where
 *   they are not valid UTF-8 this equals Python 3's reading. `u'...'` strings are code points.
 * - Python 2 long suffixes (`10L`) are accepted.
 * - Dict keys must be strings or numbers (numbers become their JS string form); sets,
 *   complex numbers, `\N{...}` escapes, f-strings and implicit string concatenation are
 *   rejected.
 * Errors are PythonLiteralError with a 1-based column (in UTF-16 code units).
 */

export type PyValue = string | number | boolean | null | PyValue[] | { [key: string]: PyValue };

/** Bad input: `column` is 1-based, `message` says what was expected there. */
export class PythonLiteralError extends Error {
  constructor(
    message: string,
    readonly column: number,
  ) {
    super(`${message} at column ${column}`);
    this.name = 'PythonLiteralError';
  }
}

export interface PythonLiteralOptions {
  /** Deepest nesting of containers allowed (protects the stack). Default 500. */
  maxDepth?: number;
}

/** Parses one Python literal; the whole text must be that literal (surrounding whitespace allowed). */
export function parsePythonLiteral(text: string, options: PythonLiteralOptions = {}): PyValue {
  const p = new Parser(text, options.maxDepth ?? 500);
  p.skipWs();
  const v = p.value();
  p.skipWs();
  if (p.pos < text.length) p.fail('expected end of input');
  return v;
}

const enum C {
  Tab = 9,
  Lf = 10,
  Vt = 11,
  Ff = 12,
  Cr = 13,
  Space = 32,
  DQuote = 34,
  Hash = 35,
  SQuote = 39,
  LParen = 40,
  RParen = 41,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Dot = 46,
  Zero = 48,
  Seven = 55,
  Nine = 57,
  Colon = 58,
  LBracket = 91,
  Backslash = 92,
  RBracket = 93,
  Underscore = 95,
  LBrace = 123,
  RBrace = 125,
}

const isDigit = (c: number): boolean => c >= C.Zero && c <= C.Nine;
const isIdentStart = (c: number): boolean =>
  (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === C.Underscore || c > 127;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c);
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);

// Decimal int or float, with Python 3.6 underscores between digits.
const DECIMAL = /(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;
const RADIX = /0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)/y;

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\',
  "'": "'",
  '"': '"',
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Parser {
  pos = 0;
  private depth = 0;

  constructor(
    private readonly s: string,
    private readonly maxDepth: number,
  ) {}

  /** Throws at `at`; `showFound` adds the character found there. */
  fail(message: string, at = this.pos, showFound = true): never {
    let found = '';
    if (showFound)
      found = at < this.s.length ? `, found ${JSON.stringify(this.s[at])}` : ', found end of input';
    throw new PythonLiteralError(message + found, at + 1);
  }

  skipWs(): void {
    const s = this.s;
    let i = this.pos;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === C.Space || c === C.Tab || c === C.Lf || c === C.Cr || c === C.Ff || c === C.Vt) i++;
      else break;
    }
    this.pos = i;
  }

  value(): PyValue {
    const c = this.s.charCodeAt(this.pos);
    switch (c) {
      case C.LBrace:
        return this.dict();
      case C.LBracket:
        return this.list();
      case C.LParen:
        return this.tuple();
      case C.SQuote:
      case C.DQuote:
        return this.string('');
      case C.Minus:
      case C.Plus: {
        // literal_eval allows one sign before a number, nothing else.
        this.pos++;
        this.skipWs();
        if (!isDigit(this.s.charCodeAt(this.pos)) && this.s.charCodeAt(this.pos) !== C.Dot) {
          this.fail('expected a number after the sign');
        }
        const n = this.number();
        return c === C.Minus ? -n : n;
      }
      default:
        if (isDigit(c) || c === C.Dot) return this.number();
        if (isIdentStart(c)) return this.name();
        if (c === C.Hash) this.fail('comments are not allowed; expected a value');
        return this.fail('expected a value');
    }
  }

  private enter(): void {
    if (++this.depth > this.maxDepth)
      this.fail(`containers nested deeper than ${this.maxDepth}`, this.pos, false);
  }

  private dict(): { [key: string]: PyValue } {
    this.enter();
    const out: { [key: string]: PyValue } = {};
    this.pos++; // '{'
    this.skipWs();
    while (this.s.charCodeAt(this.pos) !== C.RBrace) {
      const keyAt = this.pos;
      const k = this.value();
      let key: string;
      if (typeof k === 'string') key = k;
      else if (typeof k === 'number') key = String(k);
      else return this.fail('expected a string or number as dict key', keyAt);
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== C.Colon)
        this.fail("expected ':' after dict key (sets are not supported)");
      this.pos++;
      this.skipWs();
      const v = this.value();
      // Assignment to "__proto__" would set the prototype instead of a key.
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      } else out[key] = v;
      this.skipWs();
      const d = this.s.charCodeAt(this.pos);
      if (d === C.Comma) {
        this.pos++;
        this.skipWs();
      } else if (d !== C.RBrace) this.fail("expected ',' or '}' in dict");
    }
    this.pos++;
    this.depth--;
    return out;
  }

  private list(): PyValue[] {
    this.enter();
    this.pos++; // '['
    this.skipWs();
    return this.rest([], C.RBracket, "expected ',' or ']' in list");
  }

  /**
   * Comma-separated values up to and including the closing character (a trailing comma is
   * allowed), appended to `out`; leaves the container's nesting level.
   */
  private rest(out: PyValue[], close: number, expected: string): PyValue[] {
    while (this.s.charCodeAt(this.pos) !== close) {
      out.push(this.value());
      this.skipWs();
      const d = this.s.charCodeAt(this.pos);
      if (d === C.Comma) {
        this.pos++;
        this.skipWs();
      } else if (d !== close) this.fail(expected);
    }
    this.pos++;
    this.depth--;
    return out;
  }

  /** `()` and `(a,)`/`(a, b)` are tuples; `(a)` is just `a`, as in Python. */
  private tuple(): PyValue {
    this.enter();
    this.pos++; // '('
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === C.RParen) {
      this.pos++;
      this.depth--;
      return [];
    }
    const first = this.value();
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === C.RParen) {
      this.pos++;
      this.depth--;
      return first;
    }
    if (this.s.charCodeAt(this.pos) !== C.Comma) this.fail("expected ',' or ')' in tuple");
    this.pos++;
    this.skipWs();
    return this.rest([first], C.RParen, "expected ',' or ')' in tuple");
  }

  private number(): number {
    const s = this.s;
    const start = this.pos;
    let value: number;
    RADIX.lastIndex = start;
    let m = RADIX.exec(s);
    if (m !== null) {
      const body = m[0].slice(2).replace(/_/g, '');
      const radix = { x: 16, o: 8, b: 2 }[m[0][1].toLowerCase() as 'x' | 'o' | 'b'];
      value = parseInt(body, radix);
    } else {
      DECIMAL.lastIndex = start;
      m = DECIMAL.exec(s);
      if (m === null) return this.fail('expected a number');
      const text = m[0];
      const isInt = !/[.eE]/.test(text);
      if (isInt && text.length > 1 && text.charCodeAt(0) === C.Zero && /[1-9]/.test(text)) {
        this.fail('leading zeros in a decimal integer are not allowed (use 0o for octal)', start);
      }
      value = Number(text.replace(/_/g, ''));
      if (isInt && (s.charCodeAt(start + text.length) | 0x20) === 0x6c) {
        this.pos = start + text.length + 1; // Python 2 long: 10L
        return this.afterNumber(value);
      }
    }
    this.pos = start + m[0].length;
    return this.afterNumber(value);
  }

  private afterNumber(value: number): number {
    const c = this.s.charCodeAt(this.pos);
    if ((c | 0x20) === 0x6a) this.fail('complex numbers are not supported');
    if (isIdentPart(c) || c === C.Dot) this.fail('expected a delimiter after the number');
    return value;
  }

  private name(): PyValue {
    const s = this.s;
    const start = this.pos;
    let i = start + 1;
    while (isIdentPart(s.charCodeAt(i))) i++;
    const word = s.slice(start, i);
    const q = s.charCodeAt(i);
    if (q === C.SQuote || q === C.DQuote) {
      if (/^(?:[rRuUbB]|[bB][rR]|[rR][bB])$/.test(word)) {
        this.pos = i;
        return this.string(word.toLowerCase());
      }
      return this.fail(`unsupported string prefix '${word}'`, start);
    }
    this.pos = i;
    if (word === 'True') return true;
    if (word === 'False') return false;
    if (word === 'None') return null;
    return this.fail(
      `expected a value (True, False, None, a number, string or container), not the name '${word}'`,
      start,
    );
  }

  /** A string literal at `pos` (the opening quote), with its lowercased prefix. */
  private string(prefix: string): string {
    const s = this.s;
    const q = s.charCodeAt(this.pos);
    const triple = s.charCodeAt(this.pos + 1) === q && s.charCodeAt(this.pos + 2) === q;
    const open = this.pos;
    const bodyStart = this.pos + (triple ? 3 : 1);
    if (!triple) {
      // Fast path: no escapes (most strings).
      for (let i = bodyStart; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === q) {
          this.pos = i + 1;
          return s.slice(bodyStart, i);
        }
        if (c === C.Backslash) break;
        if (c === C.Lf || c === C.Cr) this.fail('unterminated string (a newline inside quotes)', i);
      }
    }
    return this.slowString(prefix, q, triple, open, bodyStart);
  }

  private slowString(prefix: string, q: number, triple: boolean, open: number, bodyStart: number): string {
    const s = this.s;
    const kind: StringKind = {
      raw: prefix.includes('r'),
      bytes: prefix.includes('b'),
      codePoints: prefix.includes('u'),
    };
    const out = new StringPieces();
    let i = bodyStart;
    let litStart = i;
    for (;;) {
      if (i >= s.length) this.fail('unterminated string starting', open, false);
      const c = s.charCodeAt(i);
      if (c === q && (!triple || (s.charCodeAt(i + 1) === q && s.charCodeAt(i + 2) === q))) {
        if (i > litStart) out.text(s.slice(litStart, i));
        this.pos = i + (triple ? 3 : 1);
        return out.join();
      }
      if (!triple && (c === C.Lf || c === C.Cr))
        this.fail('unterminated string (a newline inside quotes)', i);
      if (c !== C.Backslash) {
        i++;
        continue;
      }
      if (i > litStart) out.text(s.slice(litStart, i));
      if (s[i + 1] === undefined) this.fail('unterminated string starting', open, false);
      i = this.escape(i, kind, out);
      litStart = i;
    }
  }

  /** Appends the escape sequence at `i` (a backslash) to `out`; returns the index after it. */
  private escape(i: number, kind: StringKind, out: StringPieces): number {
    const s = this.s;
    const e = s[i + 1];
    // In raw strings a backslash only keeps the next character from ending the string.
    if (kind.raw) {
      out.text(s.slice(i, i + 2));
      return i + 2;
    }
    if (e === '\n' || e === '\r') {
      // A line continuation: the escaped line break ("\r\n" too) stands for nothing.
      out.flush();
      return e === '\r' && s[i + 2] === '\n' ? i + 3 : i + 2;
    }
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) out.text(simple);
    else if (e === 'x') return this.hexByte(i, kind, out);
    else if (e >= '0' && e <= '7') return this.octal(i, kind, out);
    else if ((e === 'u' || e === 'U') && !kind.bytes) return this.unicode(i, e, out);
    else if (e === 'N' && !kind.bytes) this.fail('\\N{...} escapes are not supported', i);
    // Python keeps unknown escapes verbatim, backslash included.
    else out.text(s.slice(i, i + 2));
    return i + 2;
  }

  /** \xNN: a code point in u'' strings, else a byte. */
  private hexByte(i: number, kind: StringKind, out: StringPieces): number {
    const s = this.s;
    if (!isHex(s.charCodeAt(i + 2)) || !isHex(s.charCodeAt(i + 3))) {
      this.fail('expected two hex digits after \\x', i);
    }
    const b = parseInt(s.slice(i + 2, i + 4), 16);
    if (kind.codePoints) out.text(String.fromCharCode(b));
    else out.byte(b);
    return i + 4;
  }

  /** An octal escape of one to three digits: a byte, or a code point in u'' strings and above \377. */
  private octal(i: number, kind: StringKind, out: StringPieces): number {
    const s = this.s;
    let j = i + 1;
    while (j < i + 4 && s.charCodeAt(j) >= C.Zero && s.charCodeAt(j) <= C.Seven) j++;
    const v = parseInt(s.slice(i + 1, j), 8);
    if (kind.codePoints || v > 0xff) {
      if (kind.bytes) this.fail('octal escape above \\377 in a bytes literal', i);
      out.text(String.fromCharCode(v));
    } else out.byte(v);
    return j;
  }

  /** \uXXXX or \UXXXXXXXX. */
  private unicode(i: number, e: string, out: StringPieces): number {
    const s = this.s;
    const len = e === 'u' ? 4 : 8;
    const hex = s.slice(i + 2, i + 2 + len);
    if (hex.length !== len || ![...hex].every((h) => isHex(h.charCodeAt(0)))) {
      this.fail(`expected ${len} hex digits after \\${e}`, i);
    }
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) this.fail(`\\${e}${hex} is beyond U+10FFFF`, i);
    out.text(String.fromCodePoint(cp));
    return i + 2 + len;
  }
}

/** The string prefix's letters: r (raw), b (bytes), u (code points). */
interface StringKind {
  raw: boolean;
  bytes: boolean;
  codePoints: boolean;
}

/**
 * The decoded pieces of a string literal. Consecutive byte escapes are decoded together (see
 * the module comment), so a byte run ends only where text follows or `flush` says so.
 */
class StringPieces {
  private readonly parts: string[] = [];
  private run: number[] = [];

  text(t: string): void {
    this.flush();
    this.parts.push(t);
  }

  byte(b: number): void {
    this.run.push(b);
  }

  flush(): void {
    if (this.run.length === 0) return;
    let text: string | undefined;
    if (this.run.some((b) => b > 0x7f)) {
      try {
        text = utf8.decode(Uint8Array.from(this.run));
      } catch {
        text = undefined;
      }
    }
    this.parts.push(text ?? Buffer.from(this.run).toString('latin1'));
    this.run = [];
  }

  join(): string {
    this.flush();
    return this.parts.join('');
  }
}
