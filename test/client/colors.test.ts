/**
 * colors: the colour decision (flags, NO_COLOR, FORCE_COLOR, TTY) and the SGR helpers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { colorEnabled, createColors, stripSgr } from '../../lib/client/colors.js';

describe('colorEnabled', () => {
  const d = (env: NodeJS.ProcessEnv, isTTY: boolean, noColorFlag = false, force?: boolean): boolean =>
    colorEnabled(force === undefined ? { env, isTTY, noColorFlag } : { env, isTTY, noColorFlag, force });

  it('colours a TTY by default, not a pipe or a dumb terminal', () => {
    assert.equal(d({ TERM: 'xterm-256color' }, true), true);
    assert.equal(d({}, false), false);
    assert.equal(d({ TERM: 'dumb' }, true), false);
  });

  it('honours NO_COLOR with any non-empty value', () => {
    assert.equal(d({ NO_COLOR: '1' }, true), false);
    assert.equal(d({ NO_COLOR: 'anything' }, true), false);
    assert.equal(d({ NO_COLOR: '' }, true), true);
  });

  it('honours FORCE_COLOR', () => {
    assert.equal(d({ FORCE_COLOR: '1' }, false), true);
    assert.equal(d({ FORCE_COLOR: '' }, false), true);
    assert.equal(d({ FORCE_COLOR: '0' }, true), false);
    assert.equal(d({ FORCE_COLOR: 'false' }, true), false);
    assert.equal(d({ FORCE_COLOR: '1', NO_COLOR: '1' }, true), false);
  });

  it('lets --no-color beat everything and --color beat the environment', () => {
    assert.equal(d({ FORCE_COLOR: '1' }, true, true, true), false);
    assert.equal(d({ NO_COLOR: '1' }, false, false, true), true);
  });
});

describe('createColors', () => {
  it('is the identity when disabled', () => {
    const c = createColors(false);
    for (const f of [c.bold, c.dim, c.italic, c.red, c.yellow, c.cyan, c.inverse, c.fg256(33)]) {
      assert.equal(f('x'), 'x');
    }
  });

  it('emits paired SGR codes when enabled', () => {
    const c = createColors(true);
    assert.equal(c.bold('x'), '\x1b[1mx\x1b[22m');
    assert.equal(c.inverse('x'), '\x1b[7mx\x1b[27m');
    assert.equal(c.red('x'), '\x1b[31mx\x1b[39m');
    assert.equal(c.fg256(999)('x'), '\x1b[38;5;255mx\x1b[39m');
    assert.equal(c.fg256(Number.NaN)('x'), '\x1b[38;5;7mx\x1b[39m');
    assert.equal(c.bold(''), '');
  });

  it('styles each line separately', () => {
    const c = createColors(true);
    assert.equal(c.dim('a\n\nb'), '\x1b[2ma\x1b[22m\n\n\x1b[2mb\x1b[22m');
    assert.equal(stripSgr(c.cyan(c.bold('a\nb'))), 'a\nb');
  });
});
