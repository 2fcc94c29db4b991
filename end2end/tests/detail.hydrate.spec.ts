/**
 * The process detail page with JavaScript: the live log tail (colours, new lines while
 * following), the CPU/memory chart, hook runs and the timeline's failed start.
 */
import { expect, open, signIn, test, uniqueName } from './fixtures';
import type { Page } from '@playwright/test';

function section(page: Page, name: string) {
  return page.getByRole('region', { name, exact: true });
}

test('coloured output shows in colour in the live tail, and new lines arrive while following', async ({
  page,
  api,
  hydrated,
}) => {
  const name = uniqueName('colours');
  // One red stdout line and one plain stderr line a second, numbered.
  const command =
    'i=0; while true; do printf "\\033[31mred %s\\033[0m\\n" $i; echo "err $i" >&2; i=$((i+1)); sleep 1; done';
  await api.register(name, command);
  try {
    await expect.poll(() => api.state(name)).toBe('running');
    await signIn(page, { hydrated });
    await open(page, `/processes/${name}`, hydrated);
    const logs = section(page, 'Logs');
    await expect(logs.getByRole('status')).toHaveText('Live');
    const output = logs.getByLabel('Log output');
    const red = output.locator('span.ansi-fg-1').filter({ hasText: /^red \d+$/ });
    await expect(red.first()).toBeVisible();
    // The escape sequences are rendered, not shown.
    await expect(output).not.toContainText('[31m');
    await expect(output.locator('.log-line.stderr').filter({ hasText: /^err \d+$/ }).first()).toBeVisible();

    const newest = async (): Promise<number> => {
      const texts = await red.allTextContents();
      return Math.max(...texts.map((t) => Number(t.split(' ')[1])));
    };
    const before = await newest();
    await expect.poll(newest, { message: 'new lines arrive on the socket' }).toBeGreaterThan(before + 1);

    // The stream filter shows stderr only.
    await logs.getByLabel('Stream').selectOption('stderr');
    await expect(output.locator('.log-line.stdout')).toHaveCount(0);
    await expect(output.locator('.log-line.stderr').first()).toBeVisible();
  } finally {
    await api.remove(name);
  }
});

test('with several instances, the one picked is the one whose log and chart are shown', async ({
  page,
  api,
  hydrated,
}) => {
  const name = uniqueName('pair');
  await api.register(name, 'echo "pid $$"; exec sleep 300', { instances: 2 });
  try {
    await expect.poll(() => api.state(`${name}-2`)).toBe('running');
    await expect.poll(() => api.state(`${name}-1`)).toBe('running');
    const [first, second] = [(await api.status(`${name}-1`)).pid, (await api.status(`${name}-2`)).pid];
    await signIn(page, { hydrated });
    await open(page, `/processes/${name}`, hydrated);
    const logs = section(page, 'Logs');
    const output = logs.getByLabel('Log output');
    await expect(output).toHaveText(`pid ${first}`);
    await page.getByLabel('CPU, memory and log of').selectOption(`${name}-2`);
    // The first instance's tail is gone (its socket closed), the second's is live.
    await expect(output).toHaveText(`pid ${second}`);
    await expect(logs.getByRole('status')).toHaveText('Live');
    await expect(section(page, 'CPU and memory').getByText(/^Memory \d+(\.\d)? (B|KiB|MiB|GiB)$/)).toBeVisible();
  } finally {
    await api.removeInstances(name);
  }
});

test('the CPU and memory chart fills with samples', async ({ page, processName, hydrated }) => {
  await signIn(page, { hydrated });
  await open(page, `/processes/${processName}`, hydrated);
  const res = section(page, 'CPU and memory');
  await expect(res.getByRole('img', { name: 'CPU over time' })).toBeVisible();
  await expect(res.getByRole('img', { name: 'Memory over time' })).toBeVisible();
  await expect(res.getByText(/^CPU \d+(\.\d)?%$/)).toBeVisible();
  await expect(res.getByText(/^Memory \d+(\.\d)? (B|KiB|MiB|GiB)$/)).toBeVisible();
  // Polling adds points to the line (one per sample).
  const points = async () =>
    ((await res.locator('polyline.cpu').getAttribute('points')) ?? '').split(' ').filter(Boolean).length;
  await expect.poll(points, { timeout: 15_000 }).toBeGreaterThan(1);
});

test('hook runs appear on the detail page with their result, and the timeline shows them', async ({
  page,
  api,
  hydrated,
}) => {
  const name = uniqueName('hooks');
  await api.register(name, 'sleep 300', {
    lifecycle: {
      pre_start: [{ name: 'warm', command: 'echo warming up' }],
      post_start: [{ name: 'check', command: 'echo not ready >&2; exit 3', failure_mode: 'ignore' }],
    },
  });
  try {
    await expect.poll(() => api.state(name)).toBe('running');
    await signIn(page, { hydrated });
    await open(page, `/processes/${name}`, hydrated);
    const hooks = section(page, 'Hooks');
    const warm = hooks.getByRole('row').filter({ hasText: 'warm' });
    await expect(warm).toContainText(/succeeded in \S+/);
    const check = hooks.getByRole('row').filter({ hasText: 'check' });
    await expect(check).toContainText(/exited with code 3 after \S+/);
    await check.getByText('Output', { exact: true }).click();
    await expect(check).toContainText('not ready');
    await expect(page.locator('ol.timeline')).toContainText('post_start hook check exited with code 3');
  } finally {
    await api.remove(name);
  }
});

test('the timeline shows a failed start and the restart decision', async ({ page, api, hydrated }) => {
  const name = uniqueName('flaky');
  await api.register(name, 'sleep 0.2; exit 3', {
    start_duration: '2s',
    auto_restart: true,
    restart_interval: '30s',
  });
  try {
    await signIn(page, { hydrated });
    await open(page, `/processes/${name}`, hydrated);
    await expect(page.locator('ol.timeline')).toContainText(
      /exited with code 3 after \S+ \(failed start: exited before start_duration\) → (restart #1 in \S+|gave up)/,
    );
  } finally {
    await api.remove(name);
  }
});
