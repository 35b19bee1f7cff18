/**
 * Legacy mode against the libraries the original client is built on: a small v1 client in
 * Python (test/fixtures/v1_client.py) with pysrp, cryptography's Fernet and HKDF and Python's
 * base64 joins `serve --legacy` beside one of our clients. Debian packages python3-srp and
 * python3-cryptography (tools/install-test-tools.sh) provide them; without them it is skipped
 * (and fails under CI).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/paths.js';
import { jsonLines, runClient, startDaemonProcess } from '../helpers/processes.js';
import { python, skipWithoutTools } from '../helpers/system-tools.js';
import { V1Client } from '../helpers/v1-peer.js';

const script = join(repoRoot, 'test', 'fixtures', 'v1_client.py');

function runPython(
  args: string[],
): Promise<{ code: number | null; steps: Array<Record<string, unknown>>; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(python, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
    proc.on('error', reject);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    proc.on('close', (code) => {
      clearTimeout(timer);
      const steps = jsonLines(out);
      resolve({ code, steps, stderr: err });
    });
  });
}

test('a v1 client on pysrp and cryptography joins serve --legacy, reads history and shows UTC times', async (t) => {
  if (skipWithoutTools(t, 'python3-srp', 'python3-cryptography')) return;
  const d = await startDaemonProcess(['--legacy'], { CMD_CHAT_PASSWORD: 'old-pw' });
  try {
    const env = { CMD_CHAT_PASSWORD: 'old-pw' };
    const v2 = await runClient(['127.0.0.1', String(d.port), 'modern', '--legacy'], {
      input: 'from v2\n',
      env,
    });
    assert.equal(v2.code, 0, v2.stderr);

    const r = await runPython([String(d.port), 'pyuser', 'old-pw', 'from python']);
    const failed = r.steps.find((s) => s.step === 'failed');
    assert.equal(failed, undefined, `${JSON.stringify(failed)}\n${r.stderr}`);
    assert.equal(r.code, 0, r.stderr);
    const init = r.steps.find((s) => s.step === 'init')!;
    const [[time, name, text]] = init.history as string[][];
    assert.deepEqual([name, text], ['modern', 'from v2']);
    assert.match(time!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.ok(Math.abs(Date.parse(`${time!.replace(' ', 'T')}Z`) - Date.now()) < 60_000, time);
    const echo = r.steps.find((s) => s.step === 'message' && s.text === 'from python')!;
    assert.equal(echo.username, 'pyuser');
    assert.match(String(echo.time), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  } finally {
    await d.stop();
  }
});

test('a refused name reaches the pysrp client as the ValueError the original prints', async () => {
  const d = await startDaemonProcess(['--legacy'], { CMD_CHAT_PASSWORD: 'old-pw' });
  try {
    const alice = await V1Client.connect(d.port, 'alice', 'old-pw');
    try {
      for (const [name, text] of [
        ['aIice', 'that name is already used in this room'],
        ['\u1d00\u029f\u026a\u1d04\u1d07', 'that name is already used in this room'],
        ['a\u04cfice', 'names are one word'],
      ] as const) {
        const r = await runPython([String(d.port), name, 'old-pw', 'never sent']);
        assert.equal(r.code, 1, r.stderr);
        const failed = r.steps.find((s) => s.step === 'failed');
        assert.ok(String(failed?.error).startsWith(`builtins.ValueError: ${text}`), JSON.stringify(r.steps));
        assert.equal(
          r.steps.find((s) => s.step === 'authenticated'),
          undefined,
          'refused before H_AMK',
        );
      }
    } finally {
      alice.close();
    }
  } finally {
    await d.stop();
  }
});
