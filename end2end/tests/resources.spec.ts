/**
 * CPU and memory of a running process on the Processes page: sampled from /proc when the
 * page is rendered (and, with JavaScript, every few seconds while it is visible).
 */
import { expect, open, processRow, signIn, test } from './fixtures';

test('the CPU and memory cells show numbers for a running process', async ({ page, processName, hydrated }) => {
  await signIn(page, { hydrated });
  await open(page, '/', hydrated);
  const row = processRow(page, processName);
  await expect(row.getByRole('cell', { name: /^\d+(\.\d)?%$/ })).toBeVisible();
  await expect(row.getByRole('cell', { name: /^\d+(\.\d)? (B|KiB|MiB|GiB)$/ })).toBeVisible();
});

test('a stopped process shows no CPU or memory', async ({ page, api, processName, hydrated }) => {
  await api.stop(processName);
  await signIn(page, { hydrated });
  await open(page, '/', hydrated);
  const row = processRow(page, processName);
  await expect(row.getByRole('cell', { name: /^\d+(\.\d)?%$/ })).toHaveCount(0);
  await expect(row.getByRole('cell', { name: /^\d+(\.\d)? (B|KiB|MiB|GiB)$/ })).toHaveCount(0);
});
