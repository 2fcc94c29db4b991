/**
 * Live, JavaScript-only behaviour of the Jobs and CronJobs pages: a job created elsewhere
 * appears in the open Jobs list and its phase changes arrive without a reload; the detail pages
 * hydrate without errors.
 */
import { expect, signIn, test, uniqueName, waitHydrated } from './fixtures';
import { configCronjobName, JobsApi, row } from './jobs.steps';

test('the Jobs list shows a new job and its phase changes live', async ({ page, request, hydrated }) => {
  const jobs = new JobsApi(request);
  const name = uniqueName('livejob');
  await signIn(page, { hydrated });
  await page.goto('/jobs');
  await waitHydrated(page);
  // The socket is connected once the header's live marker is on.
  await expect(page.locator('.live.on')).toHaveCount(1);
  try {
    await jobs.createJob({ name, command: 'sleep 2' });
    const r = row(page, name);
    await expect(r).toContainText('Running');
    await expect(r).toContainText('Succeeded', { timeout: 15_000 });
  } finally {
    await jobs.remove('jobs', name);
  }
  await expect(row(page, name)).toHaveCount(0);
});

test('job and cronjob detail pages hydrate without errors', async ({ page, request, hydrated }) => {
  const jobs = new JobsApi(request);
  const name = uniqueName('idxjob');
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/favicon|status of 404/.test(msg.text())) {
      errors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));
  await jobs.createJob({ name, command: 'echo index $JOB_COMPLETION_INDEX', completions: 3, completion_mode: 'Indexed' });
  try {
    await signIn(page, { hydrated });
    await page.goto(`/jobs/${name}`);
    await waitHydrated(page);
    const grid = page.getByRole('list', { name: 'Completion indexes' });
    await expect(grid.getByRole('listitem')).toHaveCount(3);
    await expect(grid.locator('.index-succeeded')).toHaveCount(3, { timeout: 15_000 });
    await page.waitForLoadState('networkidle');
    await page.goto(`/cronjobs/${configCronjobName()}`);
    await waitHydrated(page);
    await expect(page.getByRole('list', { name: 'Next fire times' }).getByRole('listitem')).toHaveCount(10);
    await page.waitForLoadState('networkidle');
  } finally {
    await jobs.remove('jobs', name);
  }
  expect(errors).toEqual([]);
});
