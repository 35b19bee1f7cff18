/**
 * Syntax highlighting of ```lang fences inside an already sanitised message body, with
 * cli-highlight and a theme of our own SGR codes (so the result does not depend on chalk's
 * terminal detection, and every escape in the output is one we chose).
 *
 * Loading: cli-highlight pulls in highlight.js, which takes ~200 ms to import, and the CLI's
 * `--help` must start in under 150 ms; so nothing here imports it at module load. The REPL
 * should call `loadHighlighter()` (async, dynamic import) while it connects, hiding the cost
 * behind the handshake. If a fence is rendered before that finished, `highlightFences` loads
 * the module synchronously once (createRequire; it is CommonJS) rather than skipping colour.
 *
 * Languages: only fences that name a language cli-highlight knows are highlighted (with
 * ignoreIllegals, so odd code never throws); no language or an unknown one is shown plain,
 * because highlight.js's auto-detection runs every grammar and is slow. Blocks longer than
 * MAX_HIGHLIGHT_CHARS are shown plain too.
 *
 * Safety: the input is sanitised text; as a second line of defence the highlighted block is
 * accepted only if, with our SGR codes removed, it is exactly the code that went in.
 */
import { createRequire } from 'node:module';
import type { Theme } from 'cli-highlight';
import { createColors, type Style, stripSgr } from '../colors.js';

/** Code blocks longer than this are not highlighted (bounded CPU per message). */
export const MAX_HIGHLIGHT_CHARS = 16_384;

interface Highlighter {
  highlight(code: string, options: { language: string; ignoreIllegals: boolean; theme: Theme }): string;
  supportsLanguage(name: string): boolean;
}

let highlighter: Highlighter | undefined;
let loading: Promise<void> | undefined;

/** Imports cli-highlight in the background; resolves when fences can be highlighted. */
export function loadHighlighter(): Promise<void> {
  if (highlighter) return Promise.resolve();
  loading ??= import('cli-highlight').then((m) => {
    highlighter ??= { highlight: m.highlight, supportsLanguage: m.supportsLanguage };
  });
  return loading;
}

function loadSync(): Highlighter {
  if (!highlighter) {
    const m = createRequire(import.meta.url)('cli-highlight') as Highlighter;
    highlighter = { highlight: m.highlight, supportsLanguage: m.supportsLanguage };
  }
  return highlighter;
}

let theme: Theme | undefined;

function ourTheme(): Theme {
  if (theme) return theme;
  const c = createColors(true);
  const plain: Style = (s) => s;
  const blue = c.fg256(33);
  const green = c.fg256(71);
  const orange = c.fg256(172);
  const purple = c.fg256(133);
  const grey: Style = (s) => c.dim(s);
  theme = {
    keyword: blue,
    built_in: c.cyan,
    type: c.cyan,
    literal: purple,
    number: green,
    regexp: orange,
    string: orange,
    subst: plain,
    symbol: purple,
    class: blue,
    function: c.yellow,
    title: c.yellow,
    params: plain,
    comment: grey,
    doctag: grey,
    meta: grey,
    'meta-keyword': grey,
    'meta-string': orange,
    section: c.bold,
    tag: blue,
    name: blue,
    'builtin-name': c.cyan,
    attr: c.cyan,
    attribute: c.cyan,
    variable: purple,
    bullet: purple,
    code: plain,
    emphasis: c.italic,
    strong: c.bold,
    formula: plain,
    link: c.cyan,
    quote: grey,
    'selector-tag': blue,
    'selector-id': c.yellow,
    'selector-class': c.yellow,
    'selector-attr': c.cyan,
    'selector-pseudo': c.cyan,
    'template-tag': blue,
    'template-variable': purple,
    addition: green,
    deletion: c.red,
    default: plain,
  };
  return theme;
}

const OPEN_FENCE = /^ {0,3}```[ \t]*([A-Za-z0-9_+#.-]*)[ \t]*$/;
const CLOSE_FENCE = /^ {0,3}```[ \t]*$/;
// Anything escape-like that is not one of our SGR codes: its presence means "do not trust".
const FOREIGN_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

function highlightBlock(code: string, lang: string): string {
  if (lang === '' || code.length > MAX_HIGHLIGHT_CHARS) return code;
  try {
    const h = loadSync();
    if (!h.supportsLanguage(lang)) return code;
    const out = h.highlight(code, { language: lang, ignoreIllegals: true, theme: ourTheme() });
    const text = stripSgr(out);
    if (text !== code || FOREIGN_CONTROL.test(text)) return code;
    return out;
  } catch {
    return code;
  }
}

/**
 * Highlights every closed ```lang … ``` fence in `body` (fence lines dimmed, code coloured).
 * With `color` false, or without any fence, returns `body` unchanged. An unclosed fence is
 * left as plain text.
 */
export function highlightFences(body: string, color: boolean): string {
  if (!color || !body.includes('```')) return body;
  const dim = createColors(true).dim;
  const lines = body.split('\n');
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = OPEN_FENCE.exec(lines[i]!);
    if (open) {
      let end = i + 1;
      while (end < lines.length && !CLOSE_FENCE.test(lines[end]!)) end++;
      if (end < lines.length) {
        out.push(dim(lines[i]!));
        if (end > i + 1) out.push(highlightBlock(lines.slice(i + 1, end).join('\n'), open[1]!));
        out.push(dim(lines[end]!));
        i = end + 1;
        continue;
      }
    }
    out.push(lines[i]!);
    i++;
  }
  return out.join('\n');
}
