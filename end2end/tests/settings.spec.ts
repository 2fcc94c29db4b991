/**
 * The Settings page: the effective configuration, read-only, for admins only (and never a
 * secret). Runs in both projects.
 */
import { admin, alert, expect, navigation, open, pathIs, processesHeading, signIn, signOutButton, submit, submitSignIn, test, uniqueName } from './fixtures';
import type { Page } from '@playwright/test';

function setting(page: Page, label: string) {
  return page.locator('dl.settings dt', { hasText: label }).locator('xpath=following-sibling::dd[1]');
}

test('an admin sees the effective settings', async ({ page, hydrated }) => {
  await signIn(page, { hydrated });
  await navigation(page).getByRole('link', { name: 'Settings', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Settings', exact: true })).toBeVisible();
  await expect(setting(page, 'Listen address')).toHaveText(/^127\.0\.0\.1:\d+$/);
  await expect(setting(page, 'TLS')).toHaveText(/^on/);
  await expect(setting(page, 'Certificate expires')).toHaveText(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$/);
  await expect(setting(page, 'Authentication')).toHaveText('on');
  await expect(setting(page, 'Store')).toHaveText(/^sqlite \(.*provisr\.db\)$/);
  await expect(setting(page, 'Log directory')).toHaveText(/logs$/);
  await expect(setting(page, 'Metrics')).toHaveText(/^(on|off)/);
  await expect(page.locator('main')).not.toContainText(admin.password);
});

test('a viewer gets no Settings page', async ({ page, hydrated }) => {
  const username = uniqueName('viewer');
  const password = `pw-${uniqueName('secret')}`;
  await signIn(page, { hydrated });
  await open(page, '/users', hydrated);
  await page.getByLabel('Username', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Roles', { exact: true }).fill('viewer');
  await submit(page, page.getByRole('button', { name: 'Create user', exact: true }), hydrated);
  await expect(page.getByRole('table').getByRole('row').filter({ hasText: username })).toBeVisible();
  await signOutButton(page).click();
  await expect(page).toHaveURL(pathIs('/login'));
  await submitSignIn(page, { hydrated, username, password });
  await expect(processesHeading(page)).toBeVisible();
  await expect(navigation(page).getByRole('link', { name: 'Settings', exact: true })).toHaveCount(0);

  await open(page, '/settings', hydrated);
  await expect(alert(page)).toHaveText('You do not have permission to do this.');
  await expect(page.locator('dl.settings')).toHaveCount(0);
  const rpc = await page.request.post('/rpc/settings', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    data: '',
  });
  expect(rpc.status()).toBeGreaterThanOrEqual(400);
});
