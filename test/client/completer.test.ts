/**
 * Tab completion's candidates: room names after /switch, /join and /part and for a word
 * starting with "#", command names after /help, members of every room after /msg; names
 * that are not clean are never offered.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { complete } from '../../lib/client/repl/completer.js';

const members = ['bob', 'carol'];
const rooms = ['chat', 'ops', 'ops-night', 'evil\u001b[2J'];
const everyMember = ['bob', 'carol', 'frank'];

test('room names after /switch, /join, /part, with or without "#"', () => {
  assert.deepEqual(complete('/switch o', members, rooms), [['ops', 'ops-night'], 'o']);
  assert.deepEqual(complete('/sw #ch', members, rooms), [['#chat'], '#ch']);
  assert.deepEqual(complete('/join ', members, rooms), [['chat', 'ops', 'ops-night'], '']);
  assert.deepEqual(complete('/PART ops-', members, rooms), [['ops-night'], 'ops-']);
  assert.deepEqual(complete('/msg #o', members, rooms), [['#ops', '#ops-night'], '#o']);
  assert.deepEqual(complete('/switch ev', members, rooms), [[], 'ev'], 'an unclean name is never offered');
});

test('command names after /help, with or without the slash', () => {
  assert.deepEqual(complete('/help wi', members, rooms), [['wipe', 'wipe!'], 'wi']);
  assert.deepEqual(complete('/? /unig', members, rooms), [['/unignore'], '/unig']);
  assert.deepEqual(complete('/help zz', members, rooms), [[], 'zz']);
});

test('members of every room after /msg; of the current room elsewhere', () => {
  assert.deepEqual(complete('/msg fr', members, rooms, everyMember), [['frank'], 'fr']);
  assert.deepEqual(complete('/msg #ops fr', members, rooms, everyMember), [['frank'], 'fr']);
  assert.deepEqual(complete('hi fr', members, rooms, everyMember), [[], 'fr']);
  assert.deepEqual(complete('/whois ca', members, rooms, everyMember), [['carol'], 'ca']);
});
