/**
 * highlight: fences with a known language get our SGR colours, everything else is returned
 * as it was; the text is never altered, only painted.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { stripSgr } from '../../lib/client/colors.js';
import { highlightFences, loadHighlighter, MAX_HIGHLIGHT_CHARS } from '../../lib/client/repl/highlight.js';
import { packageLoaded } from '../helpers/loaded-modules.js';

const JS = 'look:\n```js\nconst x = 1; // one\nfunction f() { return "s"; }\n```\ndone';

describe('highlightFences', () => {
  it('returns the body unchanged with colour off, without loading cli-highlight', () => {
    assert.equal(highlightFences(JS, false), JS);
    assert.equal(packageLoaded('cli-highlight'), false);
  });

  it('loads synchronously on first use if not preloaded', () => {
    const out = highlightFences('```js\nlet a = 2;\n```', true);
    assert.equal(packageLoaded('cli-highlight'), true);
    assert.match(out, /\x1b\[/);
  });

  describe('once loaded', () => {
    before(async () => {
      await loadHighlighter();
    });

    it('colours a fenced block with a known language and keeps its text', () => {
      const out = highlightFences(JS, true);
      assert.notEqual(out, JS);
      assert.match(out, /\x1b\[38;5;\d+m/);
      assert.equal(stripSgr(out), JS);
      assert.ok(out.startsWith('look:\n'), 'text outside the fence is untouched');
      assert.ok(out.endsWith('\ndone'));
    });

    it('uses only SGR sequences', () => {
      const out = highlightFences(JS, true);
      assert.doesNotMatch(stripSgr(out), /[\x1b\x9b]/);
    });

    it('leaves code of unknown or missing language plain, fences dimmed', () => {
      for (const body of ['```nosuchlang\nx = 1\n```', '```\nx = 1\n```']) {
        const out = highlightFences(body, true);
        assert.equal(stripSgr(out), body);
        assert.ok(out.includes('\nx = 1\n'), 'code itself not coloured');
      }
    });

    it('leaves an unclosed fence and fence-less text unchanged', () => {
      assert.equal(highlightFences('```js\nconst x = 1;', true), '```js\nconst x = 1;');
      assert.equal(highlightFences('no code here', true), 'no code here');
      assert.equal(highlightFences('inline ```js``` only', true), 'inline ```js``` only');
    });

    it('handles several fences and an empty one', () => {
      const body = '```py\ndef f(): pass\n```\nmid\n```ts\nlet y: number = 2;\n```\n```js\n```';
      const out = highlightFences(body, true);
      assert.equal(stripSgr(out), body);
      assert.ok(out.split('\n').includes('mid'));
    });

    it('does not highlight very large blocks', () => {
      const code = 'let a = 1;\n'.repeat(Math.ceil(MAX_HIGHLIGHT_CHARS / 11) + 1);
      const body = '```js\n' + code + '```';
      const out = highlightFences(body, true);
      assert.ok(out.includes(code), 'code left plain');
    });

    it('keeps styles from spanning lines (so indentation is never painted)', () => {
      const out = highlightFences('```js\n/* a\nlong comment */\nlet s = `x\ny`;\n```', true);
      for (const line of out.split('\n')) {
        const opens = (line.match(/\x1b\[(?:[1-9]|38;5;\d+)m/g) ?? []).length;
        const closes = (line.match(/\x1b\[(?:2[0-9]|39)m/g) ?? []).length;
        assert.equal(opens, closes, JSON.stringify(line));
      }
    });

    it('cannot be tricked into passing an escape through HTML entities', () => {
      const body = '```html\n<p>&#27;[2J &#x9b;31m &lt;x&gt;</p>\n```';
      const out = highlightFences(body, true);
      assert.equal(stripSgr(out), body);
    });
  });
});
