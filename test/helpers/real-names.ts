/**
 * Real people's names in several scripts that must all be accepted and stay distinct: the
 * name rules' unit tests check them, the daemon's tests join members by them.
 */
export const NAMES_IN_MANY_SCRIPTS: readonly string[] = [
  'alice',
  'alice2',
  'Zoë',
  'Łukasz',
  '田中',
  '田中さくら',
  'Дмитрий',
  'प्रिया',
  'สมชาย',
];
