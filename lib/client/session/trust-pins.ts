/**
 * The people a user pins with `--trust NAME=FINGERPRINT` (or CMD_CHAT_TRUST): a member whose
 * name collides with a pinned one (the same `nameClass`, so look-alikes count) must have that
 * fingerprint. Parsed once, in RAM only; nothing is written.
 */
import { nameClass, normalizeName } from '../../protocol/names.js';

/** The environment variable with pins, separated by spaces, commas or newlines. */
export const TRUST_ENV = 'CMD_CHAT_TRUST';
/** More pins than this are refused (each is checked against every member's name). */
export const MAX_PINS = 1000;
const CODE = /^[A-Z2-7]{20}$/;

/** A fingerprint in its shown form (`ABCD-EFGH-IJKL-MNOP-QRST`), or undefined if it is not one. */
export function canonicalFingerprint(code: string): string | undefined {
  const bare = code.toUpperCase().replace(/[\s-]/g, '');
  return CODE.test(bare) ? bare.match(/.{4}/g)!.join('-') : undefined;
}

interface Pin {
  name: string;
  key: string;
  fingerprint: string;
}

export class TrustPins {
  private readonly pins: Pin[] = [];

  /** Parses `NAME=FINGERPRINT` entries; throws an Error that names the bad entry's position. */
  constructor(entries: readonly string[] = []) {
    if (entries.length > MAX_PINS) throw new Error(`at most ${MAX_PINS} trust pins`);
    entries.forEach((entry, i) => {
      const eq = entry.lastIndexOf('=');
      const where = `trust pin ${i + 1}`;
      if (eq <= 0) throw new Error(`${where} is not NAME=FINGERPRINT`);
      let name: string;
      try {
        name = normalizeName(entry.slice(0, eq));
      } catch {
        throw new Error(`${where}: the name is not a valid member name`);
      }
      const fingerprint = canonicalFingerprint(entry.slice(eq + 1));
      if (fingerprint === undefined)
        throw new Error(
          `${where} (${name}): the fingerprint is not 20 characters like ABCD-EFGH-IJKL-MNOP-QRST`,
        );
      const key = nameClass(name);
      const clash = this.pinFor(key);
      if (clash && clash.fingerprint !== fingerprint)
        throw new Error(
          `${where}: ${name} and ${clash.name} look alike but are pinned to different fingerprints`,
        );
      this.pins.push({ name, key, fingerprint });
    });
  }

  /** Splits the environment variable's value into entries. */
  static entriesOf(value: string | undefined): string[] {
    return (value ?? '').split(/[\s,]+/).filter(Boolean);
  }

  get size(): number {
    return this.pins.length;
  }

  /** The pinned fingerprint for a name (or a look-alike of it), if any. */
  expected(username: string): string | undefined {
    return this.pinFor(nameClass(username))?.fingerprint;
  }

  private pinFor(key: string): Pin | undefined {
    return this.pins.find((p) => p.key === key);
  }
}
