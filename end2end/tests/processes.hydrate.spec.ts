/**
 * Live updates of the Processes page: state changes arrive over the WebSocket and show in the
 * row without a reload. JavaScript-only, so the `chromium-nojs` project skips this file.
 */
import {
  expect,
  expectRowState,
  processRow,
  registerThroughForm,
  signIn,
  test,
  uniqueName,
  waitHydrated,
} from './fixtures';

declare global {
  interface Window {
    /** Set by the test; survives only as long as the document does. */
    __provisrE2eMarker?: number;
  }
}

test('a process stopped through the API turns stopped in the open page without a reload', async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  // A full page load, so the row comes from the server render.
  await page.goto('/');
  const row = processRow(page, processName);
  await expectRowState(row, 'running');

  await waitHydrated(page);
  await page.evaluate(() => {
    window.__provisrE2eMarker = 1;
  });
  const url = page.url();
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });

  await api.stop(processName);

  await expectRowState(row, 'stopped');
  expect(await api.state(processName)).toBe('stopped');
  // The same document: no reload, no navigation.
  expect(await page.evaluate(() => window.__provisrE2eMarker)).toBe(1);
  expect(page.url()).toBe(url);
  expect(navigations).toBe(0);
});

test('the detail page follows the process live: state and timeline', async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  await page.goto(`/processes/${processName}`);
  await waitHydrated(page);
  const instance = page.getByRole('table').getByRole('row').filter({ hasText: processName });
  await expectRowState(instance, 'running');
  await expect(page.locator('ol.timeline')).not.toContainText('killed by signal 15');
  const url = page.url();

  await api.stop(processName);

  await expectRowState(instance, 'stopped');
  await expect(page.locator('ol.timeline')).toContainText('killed by signal 15');
  expect(page.url()).toBe(url);
});

test('a process registered through the form shows up running in an open Processes page', async ({
  page,
  api,
  hydrated,
}) => {
  const name = uniqueName('live');
  try {
    // One tab watches the list, another registers.
    await signIn(page, { hydrated });
    await page.goto('/');
    await waitHydrated(page);
    const other = await page.context().newPage();
    await registerThroughForm(other, hydrated, { name, command: 'sleep 304' });
    await expect(other).toHaveURL(new RegExp(`/processes/${name}$`));
    await other.close();

    await expectRowState(processRow(page, name), 'running');
  } finally {
    await api.remove(name);
  }
});

test('the unregister dialog starts on Cancel and closes with Escape, leaving the process alone', async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  await page.goto('/');
  await waitHydrated(page);
  await processRow(page, processName).getByRole('link', { name: 'Unregister', exact: true }).click();
  const dialog = page.getByRole('dialog', { name: 'Unregister process' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel', exact: true })).toBeFocused();

  await page.keyboard.press('Escape');

  await expect(dialog).toHaveCount(0);
  expect(await api.state(processName)).toBe('running');
  await expectRowState(processRow(page, processName), 'running');
});
