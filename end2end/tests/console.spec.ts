/**
 * The Processes page and the process pages: register through the form, restart, filter, bulk
 * stop, edit, unregister with confirmation, the detail page, read-only config-file processes and
 * per-field errors. Runs in both projects: every one of these is a form that must work before
 * (and without) the WASM; hydrated, the same forms act in place.
 */
import {
  alert,
  cellWith,
  clickRowButton,
  configProcessName,
  expect,
  expectRowState,
  open,
  pathIs,
  processRow,
  registerThroughForm,
  signIn,
  submit,
  test,
  uniqueName,
} from './fixtures';

test('a process registered through the form runs and its page shows the spec', async ({
  page,
  api,
  hydrated,
}) => {
  const name = uniqueName('form');
  try {
    await signIn(page, { hydrated });
    await registerThroughForm(page, hydrated, { name, command: 'sleep 301', env: 'GREETING=hello' });

    await expect(page).toHaveURL(pathIs(`/processes/${name}`));
    await expect(page.getByRole('heading', { name, exact: true })).toBeVisible();
    await expect.poll(() => api.state(name)).toBe('running');
    const spec = page.locator('dl.spec');
    await expect(spec).toContainText('sleep 301');
    await expect(spec).toContainText('GREETING=hello');

    await open(page, '/', hydrated);
    await expectRowState(processRow(page, name), 'running');
  } finally {
    await api.remove(name);
  }
});

test('problems with the form are shown at their fields', async ({ page, hydrated }) => {
  const name = uniqueName('bad');
  await signIn(page, { hydrated });
  await registerThroughForm(page, hydrated, { name, command: 'sleep 1', workDir: 'relative/dir' });

  await expect(page.getByText('must be an absolute path, got relative/dir')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Register process', exact: true })).toBeVisible();
});

test("a row's Restart button starts the process again with a new pid", async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  const before = await api.status(processName);
  await signIn(page, { hydrated });
  const row = processRow(page, processName);
  await expectRowState(row, 'running');

  await clickRowButton(page, row, 'Restart', hydrated);

  await expect.poll(async () => (await api.status(processName)).pid).not.toBe(before.pid);
  const after = await api.status(processName);
  expect(after.state).toBe('running');
  if (!hydrated) await page.reload();
  await expect(cellWith(row, String(after.pid))).toBeVisible();
});

test('the filter shows only matching processes', async ({ page, api, processName, hydrated }) => {
  const other = uniqueName('other');
  await api.register(other, 'sleep 302');
  try {
    await signIn(page, { hydrated });
    await open(page, '/', hydrated);
    await expect(processRow(page, other)).toBeVisible();

    const filter = page.getByLabel('Filter', { exact: true });
    await filter.fill(processName);
    if (!hydrated) {
      const loaded = page.waitForEvent('load');
      await filter.press('Enter');
      await loaded;
    }
    await expect(processRow(page, processName)).toBeVisible();
    await expect(processRow(page, other)).toHaveCount(0);
  } finally {
    await api.remove(other);
  }
});

test('selected processes are stopped together', async ({ page, api, processName, hydrated }) => {
  const second = uniqueName('bulk');
  await api.register(second, 'sleep 303');
  try {
    await expect.poll(() => api.state(second)).toBe('running');
    await signIn(page, { hydrated });
    await open(page, '/', hydrated);
    for (const name of [processName, second]) {
      await page.getByRole('checkbox', { name: `Select ${name}`, exact: true }).check();
    }
    await submit(page, page.getByRole('button', { name: 'Stop selected', exact: true }), hydrated);

    await expect.poll(() => api.state(processName)).toBe('stopped');
    await expect.poll(() => api.state(second)).toBe('stopped');
    await expectRowState(processRow(page, processName), 'stopped');
    await expectRowState(processRow(page, second), 'stopped');
  } finally {
    await api.remove(second);
  }
});

test('editing a process changes its spec', async ({ page, api, processName, hydrated }) => {
  await signIn(page, { hydrated });
  await open(page, '/', hydrated);
  await processRow(page, processName).getByRole('link', { name: 'Edit', exact: true }).click();
  await expect(page).toHaveURL(pathIs(`/processes/${processName}/edit`));
  if (hydrated) await page.waitForLoadState();
  const command = page.getByLabel('Command', { exact: true });
  await expect(command).toHaveValue('sleep 300'); // pre-filled with the current spec
  await expect(page.getByLabel('Name', { exact: true })).toHaveValue(processName);

  await command.fill('sleep 310');
  await submit(page, page.getByRole('button', { name: 'Save', exact: true }), hydrated);

  await expect(page).toHaveURL(pathIs(`/processes/${processName}`));
  await expect(page.locator('dl.spec')).toContainText('sleep 310');
  await expect.poll(() => api.state(processName)).toBe('running');
});

test('unregistering asks for confirmation first', async ({ page, api, processName, hydrated }) => {
  await signIn(page, { hydrated });
  await open(page, '/', hydrated);
  await processRow(page, processName).getByRole('link', { name: 'Unregister', exact: true }).click();

  // Hydrated: a dialog on the same page; without JS: a confirmation page. Same question.
  const scope = hydrated ? page.getByRole('dialog') : page.locator('main');
  await expect(scope.getByText(`Unregister ${processName}?`)).toBeVisible();
  if (!hydrated) await expect(page).toHaveURL(pathIs(`/processes/${processName}/unregister`));
  // Nothing happens before the confirmation.
  expect(await api.state(processName)).toBe('running');

  await submit(page, scope.getByRole('button', { name: 'Unregister', exact: true }), hydrated);

  await expect(page).toHaveURL(pathIs('/'));
  await expect(processRow(page, processName)).toHaveCount(0);
  const response = await page.request.get('/api/status', { params: { name: processName } });
  expect(response.status()).toBe(404);
});

test('the detail page shows the timeline of starts and exits', async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  const pid = (await api.status(processName)).pid;
  await api.stop(processName);
  await signIn(page, { hydrated });
  await open(page, `/processes/${processName}`, hydrated);

  const timeline = page.locator('ol.timeline');
  await expect(timeline.getByText(`started (pid ${pid})`)).toBeVisible();
  await expect(timeline.getByText(/killed by signal 15 .*stays stopped \(requested\)/)).toBeVisible();
  await expect(page.locator('dl.spec')).toContainText('sleep 300');
});

test('a config-file process is read-only, with the reason shown', async ({ page, hydrated }) => {
  const name = configProcessName();
  await signIn(page, { hydrated });
  const row = processRow(page, name);
  await expect(row).toBeVisible();
  await expect(row.getByRole('button', { name: 'Edit', exact: true })).toBeDisabled();
  await expect(row.getByRole('button', { name: 'Unregister', exact: true })).toBeDisabled();
  await expect(row.getByText('Defined in the config file — read-only')).toBeVisible();
  // Start/Stop still work on it: read-only is about its definition.
  await expect(row.getByRole('button', { name: 'Restart', exact: true })).toBeEnabled();

  await open(page, `/processes/${name}/edit`, hydrated);
  await expect(alert(page)).toContainText('Defined in the config file — read-only');
});

test('the History page lists events newest first and filters by name', async ({
  page,
  api,
  processName,
  hydrated,
}) => {
  await api.stop(processName);
  await signIn(page, { hydrated });
  await open(page, `/history?name=${processName}`, hydrated);

  const entries = page.locator('ol.timeline li');
  await expect(entries.first()).toContainText('killed by signal 15');
  await expect(entries.last()).toContainText('registered');
  for (const text of await entries.locator('.name').allInnerTexts()) {
    expect(text.startsWith(processName)).toBe(true);
  }
});
