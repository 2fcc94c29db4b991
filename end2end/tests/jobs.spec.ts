/**
 * The Jobs page: "Create job" runs a job to its end, a failing job shows why it failed,
 * Suspend / Resume, and Delete with its confirmation. Runs in both projects: hydrated, the
 * phase changes arrive over the live socket without a reload; without JavaScript, every
 * form still works and the page is reloaded to see later phases.
 */
import { expect, pathIs, signIn, submit, test, uniqueName } from './fixtures';
import { eventually, JobsApi, phase, row, statusSection } from './jobs.steps';

test('a job created through the form runs and shows Succeeded, its attempt and its log', async ({
  page,
  request,
  hydrated,
}) => {
  const jobs = new JobsApi(request);
  const name = uniqueName('job');
  await signIn(page, { hydrated });
  await page.getByRole('link', { name: 'Jobs', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Jobs', exact: true })).toBeVisible();
  if (hydrated) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated');
  }
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Command', { exact: true }).fill('sleep 1; echo hello-from-job');
  await page.getByLabel('Completions', { exact: true }).fill('1');
  await submit(page, page.getByRole('button', { name: 'Create job', exact: true }), hydrated);

  await expect(page).toHaveURL(pathIs(`/jobs/${name}`));
  await eventually(page, hydrated, async () => {
    await expect(phase(page)).toHaveText('Succeeded');
  });
  const attempts = page.getByRole('region', { name: 'Attempts' });
  await expect(attempts.getByRole('row')).toHaveCount(2);
  await expect(attempts).toContainText('exit 0');
  await eventually(page, hydrated, async () => {
    await expect(page.getByLabel('Attempt log')).toContainText('hello-from-job');
  });
  expect((await jobs.job(name))?.phase).toBe('Succeeded');
  await jobs.remove('jobs', name);
});

test('a failing job shows Failed with BackoffLimitExceeded', async ({ page, request, hydrated }) => {
  const jobs = new JobsApi(request);
  const name = uniqueName('failjob');
  await signIn(page, { hydrated });
  await page.goto('/jobs');
  if (hydrated) {
    await expect(page.locator('body')).toHaveAttribute('data-hydrated');
  }
  await page.getByLabel('Name', { exact: true }).fill(name);
  await page.getByLabel('Command', { exact: true }).fill('echo failing >&2; exit 3');
  await page.getByLabel('Backoff limit', { exact: true }).fill('0');
  await submit(page, page.getByRole('button', { name: 'Create job', exact: true }), hydrated);

  await expect(page).toHaveURL(pathIs(`/jobs/${name}`));
  await eventually(page, hydrated, async () => {
    await expect(phase(page)).toHaveText('Failed');
    await expect(statusSection(page)).toContainText('BackoffLimitExceeded');
  });
  await expect(page.getByRole('region', { name: 'Attempts' })).toContainText('exit 3');

  // The list says the same.
  await page.goto('/jobs');
  const r = row(page, name);
  await expect(r).toContainText('Failed');
  await expect(r).toContainText('BackoffLimitExceeded');
  await jobs.remove('jobs', name);
});

test('a job is suspended, resumed, and deleted after confirmation', async ({ page, request, hydrated }) => {
  const jobs = new JobsApi(request);
  const name = uniqueName('sleepjob');
  await jobs.createJob({ name, command: 'sleep 300' });
  await expect.poll(async () => (await jobs.job(name))?.phase).toBe('Running');
  try {
    await signIn(page, { hydrated });
    await page.goto('/jobs');
    if (hydrated) {
      await expect(page.locator('body')).toHaveAttribute('data-hydrated');
    }
    const r = row(page, name);
    await expect(r).toContainText('Running');
    await expect(r.getByRole('cell', { name: '0 / 1', exact: true })).toBeVisible();

    await submit(page, r.getByRole('button', { name: 'Suspend', exact: true }), hydrated);
    await expect(r).toContainText('Suspended');
    await expect.poll(async () => (await jobs.job(name))?.phase).toBe('Suspended');

    await submit(page, r.getByRole('button', { name: 'Resume', exact: true }), hydrated);
    await expect(r).toContainText('Running');
    await expect.poll(async () => (await jobs.job(name))?.phase).toBe('Running');

    await r.getByRole('link', { name: 'Delete', exact: true }).click();
    await expect(page).toHaveURL(pathIs(`/jobs/${name}/delete`));
    await expect(page.getByText(`Delete job ${name}?`)).toBeVisible();
    // Cancel keeps it.
    await page.getByRole('link', { name: 'Cancel', exact: true }).click();
    await expect(page).toHaveURL(pathIs(`/jobs/${name}`));
    expect(await jobs.job(name)).not.toBeNull();
    await page.goto(`/jobs/${name}/delete`);
    if (hydrated) {
      await expect(page.locator('body')).toHaveAttribute('data-hydrated');
    }
    await submit(page, page.getByRole('button', { name: 'Delete', exact: true }), hydrated);
    await expect(page).toHaveURL(pathIs('/jobs'));
    await expect(row(page, name)).toHaveCount(0);
    expect(await jobs.job(name)).toBeNull();
  } finally {
    await jobs.remove('jobs', name);
  }
});
