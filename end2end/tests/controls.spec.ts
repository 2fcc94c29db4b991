/**
 * A process row's Start and Stop buttons. Runs in both projects: hydrated, the buttons act in
 * place; without JavaScript they post their form and the page reloads with the new state.
 */
import { cellWith, clickRowButton, expect, expectRowState, processRow, signIn, test } from './fixtures';

test("a row's Stop and Start buttons stop the process and start it again", async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  const before = await api.status(processName);
  expect(before.pid).toBeTruthy();

  await signIn(page, { hydrated });
  const row = processRow(page, processName);
  await expectRowState(row, 'running');

  await clickRowButton(page, row, 'Stop', hydrated);
  await expectRowState(row, 'stopped');
  await expect.poll(() => api.state(processName)).toBe('stopped');

  await clickRowButton(page, row, 'Start', hydrated);
  await expectRowState(row, 'running');
  await expect.poll(() => api.state(processName)).toBe('running');
  const after = await api.status(processName);
  expect(after.pid).toBeTruthy();
  expect(after.pid).not.toBe(before.pid);
  await expect(cellWith(row, String(after.pid))).toBeVisible();
});
