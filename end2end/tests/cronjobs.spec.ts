/**
 * The CronJobs page: "Create cronjob" on `@every 1s` records runs in the history; Suspend /
 * Resume; "Run now"; Delete with its confirmation; a config-file cronjob is read-only but can
 * be run now. Runs in both projects (without JavaScript the page is reloaded to see new runs).
 */
import { expect, pathIs, signIn, submit, test, uniqueName } from './fixtures';
import { configCronjobName, eventually, JobsApi, row, statusSection } from './jobs.steps';

test('a cronjob created through the form runs every second; suspend, resume, run now, delete', async ({
  page,
  request,
  hydrated,
}) => {
  // Many steps, each (without JavaScript) polled by reloading.
  test.setTimeout(90_000);
  const jobs = new JobsApi(request);
  const name = uniqueName('cron');
  try {
    await signIn(page, { hydrated });
    await page.getByRole('link', { name: 'CronJobs', exact: true }).click();
    await expect(page.getByRole('heading', { name: 'CronJobs', exact: true })).toBeVisible();
    if (hydrated) {
      await expect(page.locator('body')).toHaveAttribute('data-hydrated');
    }
    await page.getByLabel('Name', { exact: true }).fill(name);
    await page.getByLabel('Schedule', { exact: true }).fill('@every 1s');
    await page.getByLabel('Time zone', { exact: true }).fill('Europe/Berlin');
    await page.getByLabel('Concurrency policy', { exact: true }).selectOption('Forbid');
    await page.getByLabel('Command', { exact: true }).fill('true');
    await submit(page, page.getByRole('button', { name: 'Create cronjob', exact: true }), hydrated);

    await expect(page).toHaveURL(pathIs(`/cronjobs/${name}`));
    await expect(statusSection(page)).toContainText('@every 1s');
    await expect(statusSection(page)).toContainText('Europe/Berlin');
    await expect(page.getByRole('list', { name: 'Next fire times' }).getByRole('listitem')).toHaveCount(10);
    const history = page.getByRole('table', { name: 'Run history' });
    await eventually(page, hydrated, async () => {
      await expect(history.getByRole('row').filter({ hasText: 'Succeeded' }).first()).toBeVisible();
    });
    await expect(history.getByRole('row').filter({ hasText: 'created' }).first()).toBeVisible();

    // Suspend: no more scheduled runs.
    await submit(page, statusSection(page).getByRole('button', { name: 'Suspend', exact: true }), hydrated);
    await expect(statusSection(page).getByRole('button', { name: 'Resume', exact: true })).toBeVisible();
    await expect.poll(async () => (await jobs.cronjob(name))?.suspended).toBe(true);

    // Run now works while suspended.
    await submit(page, statusSection(page).getByRole('button', { name: 'Run now', exact: true }), hydrated);
    await eventually(page, hydrated, async () => {
      await expect(history.getByRole('row').filter({ hasText: 'run now' }).first()).toBeVisible();
    });

    await submit(page, statusSection(page).getByRole('button', { name: 'Resume', exact: true }), hydrated);
    await expect(statusSection(page).getByRole('button', { name: 'Suspend', exact: true })).toBeVisible();
    await expect.poll(async () => (await jobs.cronjob(name))?.suspended).toBe(false);

    // Delete, after confirmation.
    await page.goto('/cronjobs');
    if (hydrated) {
      await expect(page.locator('body')).toHaveAttribute('data-hydrated');
    }
    await row(page, name).getByRole('link', { name: 'Delete', exact: true }).click();
    await expect(page).toHaveURL(pathIs(`/cronjobs/${name}/delete`));
    await expect(page.getByText(`Delete cronjob ${name}?`)).toBeVisible();
    if (hydrated) {
      await expect(page.locator('body')).toHaveAttribute('data-hydrated');
    }
    await submit(page, page.getByRole('button', { name: 'Delete', exact: true }), hydrated);
    await expect(page).toHaveURL(pathIs('/cronjobs'));
    await expect(row(page, name)).toHaveCount(0);
    expect(await jobs.cronjob(name)).toBeNull();
  } finally {
    await jobs.remove('cronjobs', name);
  }
});

test('a config-file cronjob is read-only but can be run now', async ({ page, request, hydrated }) => {
  const jobs = new JobsApi(request);
  const name = configCronjobName();
  await signIn(page, { hydrated });
  await page.goto('/cronjobs');
  if (hydrated) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated');
  }
  const r = row(page, name);
  await expect(r.getByRole('button', { name: 'Delete', exact: true })).toBeDisabled();
  await expect(r).toContainText('Defined in the config file');
  await expect(r.getByRole('link', { name: 'Delete' })).toHaveCount(0);

  const before = (await jobs.jobNames()).filter((n) => n.startsWith(`${name}-`));
  await submit(page, r.getByRole('button', { name: 'Run now', exact: true }), hydrated);
  await expect
    .poll(async () => (await jobs.jobNames()).filter((n) => n.startsWith(`${name}-`)).length)
    .toBeGreaterThan(before.length);
  await page.goto('/jobs');
  await expect(page.getByRole('row').filter({ hasText: `cronjob ${name} (run now)` }).first()).toBeVisible();
});
