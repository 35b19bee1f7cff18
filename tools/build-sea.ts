/**
 * `npm run build:sea`: a single executable (Node's own SEA support) for the platform this runs
 * on, from Node 24 or later (the binary embeds the node that runs this). esbuild bundles the
 * built CLI and its runtime dependencies into one CommonJS file (a SEA runs one CommonJS script
 * and can require only built-in modules). Its entry answers `--help` and `--version` from the
 * pre-rendered help, stored as a SEA asset, before the CLI's modules are evaluated (they are
 * behind esbuild's lazy wrappers). Node writes the preparation blob with a V8 code cache of the
 * bundle (`--experimental-sea-config`, `useCodeCache`); postject, Node's maintained injector,
 * puts it into a copy of this node binary. Output: dist/sea/cmd-chat (cmd-chat.exe on Windows).
 * macOS needs the signature removed before and re-applied after injection: see docs/install.md.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'dist', 'sea');
const exe = join(out, process.platform === 'win32' ? 'cmd-chat.exe' : 'cmd-chat');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
/** The Node line the executable embeds: the oldest one whose SEA support we build for. */
const EMBEDDED_NODE_MAJOR = 24;

const major = Number(process.versions.node.split('.')[0]);
if (major < EMBEDDED_NODE_MAJOR) {
  process.stderr.write(
    `build-sea: the single executable embeds the running node; run this with Node ${EMBEDDED_NODE_MAJOR} or later (this is ${process.version})\n`,
  );
  process.exit(1);
}

/**
 * The runtime lookups a bundle cannot follow, made static: the version, cli-highlight and the
 * confusables table of the name rules.
 */
const staticRequires: Plugin = {
  name: 'static-requires',
  setup(b) {
    b.onLoad(
      { filter: /dist[\\/](commands[\\/]cli|lib[\\/]client[\\/]highlight|lib[\\/]protocol[\\/]names)\.js$/ },
      (args) => {
        const source = readFileSync(args.path, 'utf8');
        const patched = source
          .replace("require('../../package.json')", JSON.stringify({ version }))
          .replace("createRequire(import.meta.url)('cli-highlight')", "require('cli-highlight')")
          .replace("createRequire(import.meta.url).resolve('unhomoglyph/data.json')", "''")
          .replace("JSON.parse(readFileSync(path, 'utf8'))", "require('unhomoglyph/data.json')");
        if (patched === source) throw new Error(`build-sea: nothing to patch in ${args.path}`);
        return { contents: patched, loader: 'js' };
      },
    );
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const bundle = join(out, 'cmd-chat.cjs');
await build({
  stdin: {
    // The fast paths first; the CLI (yargs and the rest) is evaluated only when it is needed.
    contents: [
      "import { getAsset } from 'node:sea';",
      "import { fastAnswer } from './dist/commands/fast-help.js';",
      'const args = process.argv.slice(2);',
      'function cli() {',
      `  const answer = fastAnswer(args, { version: () => ${JSON.stringify(version)}, compressedHelp: () => new Uint8Array(getAsset('help.json.br')) });`,
      '  if (answer !== undefined) process.stdout.write(answer);',
      "  else void import('./dist/commands/cli.js').then((cli) => cli.main(args));",
      '}',
      // As bin/cmd-chat.js: a plain `serve` line runs without yargs.
      "if (args[0] === 'serve')",
      "  void import('./dist/commands/serve-fast.js').then((s) => s.serveWithoutYargs(args.slice(1))).then((done) => done || cli());",
      'else cli();',
      '',
    ].join('\n'),
    resolveDir: root,
    loader: 'js',
  },
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${EMBEDDED_NODE_MAJOR}`,
  outfile: bundle,
  // Never equal to a real file URL: cli.js's "run directly" branch stays off in the bundle.
  define: { 'import.meta.url': JSON.stringify('file:///cmd-chat-sea/cmd-chat.js') },
  plugins: [staticRequires],
  logLevel: 'warning',
});

const config = join(out, 'sea-config.json');
const blob = join(out, 'sea-prep.blob');
writeFileSync(
  config,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    assets: { 'help.json.br': join(root, 'dist', 'help.json.br') },
  }),
);
execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'inherit' });
copyFileSync(process.execPath, exe);
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
execFileSync(
  process.execPath,
  [
    postject,
    exe,
    'NODE_SEA_BLOB',
    blob,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
    ...(process.platform === 'darwin' ? ['--macho-segment-name', 'NODE_SEA'] : []),
  ],
  { stdio: 'inherit' },
);
rmSync(config);
rmSync(blob);
process.stdout.write(`built ${exe}\n`);
