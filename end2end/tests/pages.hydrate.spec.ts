/**
 * Every console page hydrates without errors: no panic, no hydration mismatch, nothing logged as
 * an error in the browser console (a missing favicon aside). JavaScript-only, so the
 * `chromium-nojs` project skips this file.
 */
import { configProcessName, expect, signIn, test, waitHydrated } from './fixtures';

const PAGES = [
  '/',
  '/register',
  `/processes/${configProcessName()}`,
  `/processes/${configProcessName()}/edit`,
  '/history',
  '/users',
  '/clients',
  '/settings',
  '/jobs',
  '/cronjobs',
  '/groups',
];

test('every page hydrates without errors in the console', async ({ page, hydrated }) => {
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/favicon|status of 404/.test(msg.text())) {
      errors.push(`${page.url()}: ${msg.text()}`);
    }
  });
  page.on('pageerror', (err) => errors.push(`${page.url()}: ${err.message}`));

  await signIn(page, { hydrated });
  for (const path of PAGES) {
    await page.goto(path);
    await waitHydrated(page);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    // Let the WASM finish hydrating the suspended parts of the page.
    await page.waitForLoadState('networkidle');
  }
  expect(errors).toEqual([]);
});

test('the hydrated register form adds hook rows and keeps them when the server refuses', async ({
  page,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  await page.goto('/register');
  await waitHydrated(page);
  await expect(page.getByRole('group', { name: 'Hook 1' })).toBeVisible();
  await page.getByRole('button', { name: 'Add hook', exact: true }).click();
  const second = page.getByRole('group', { name: 'Hook 2' });
  await expect(second).toBeVisible();

  await page.getByLabel('Name', { exact: true }).fill('hooked-bad');
  await page.getByLabel('Command', { exact: true }).fill('sleep 1');
  await second.getByLabel('Hook name', { exact: true }).fill('warmup');
  await second.getByLabel('Failure mode', { exact: true }).selectOption('ignore');
  await second.getByLabel('Timeout', { exact: true }).fill('soon');
  await page.getByRole('button', { name: 'Register', exact: true }).click();

  // Every problem at its field, in place; what was typed is still there.
  await expect(second.getByText('a hook needs a command')).toBeVisible();
  await expect(second.getByLabel('Hook name', { exact: true })).toHaveValue('warmup');
});
