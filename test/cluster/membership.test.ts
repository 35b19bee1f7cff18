/**
 * Live daemons: announcements make a daemon known, any of its events keeps it alive (under
 * load its announcements queue behind its room traffic), silence beyond the bound ends it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Membership } from '../../lib/cluster/membership.js';

test('a daemon heard through its room events stays live; a silent one is swept', () => {
  const m = new Membership('self', 100, 3000);
  assert.equal(m.heard('busy', 50, 0), true);
  assert.equal(m.heard('quiet', 60, 0), true);
  assert.equal(m.sequencer(), 'busy');
  m.touch('busy', 2500); // a room event, no announcement
  m.touch('stranger', 2500); // not announced: touching does not make it known
  assert.deepEqual(m.sweep(4000), ['quiet']);
  assert.equal(m.isLive('busy'), true);
  assert.equal(m.isLive('stranger'), false);
  assert.deepEqual(m.sweep(6000), ['busy']);
  assert.equal(m.sequencer(), 'self');
});
