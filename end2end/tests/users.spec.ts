/**
 * Users and roles: an admin creates a user in the console, that user signs in, and what they
 * see depends on their role (a viewer gets no controls and no admin pages). Runs in both
 * projects: the Users form, like every form, works without JavaScript.
 */
import {
  alert,
  expect,
  navigation,
  open,
  processRow,
  processesHeading,
  signIn,
  signOutButton,
  submit,
  submitSignIn,
  test,
  uniqueName,
  pathIs,
} from './fixtures';
import type { Page } from '@playwright/test';

async function createUser(
  page: Page,
  hydrated: boolean,
  user: { username: string; password: string; roles: string; email?: string },
): Promise<void> {
  await open(page, '/users', hydrated);
  await page.getByLabel('Username', { exact: true }).fill(user.username);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  if (user.email) await page.getByLabel('Email', { exact: true }).fill(user.email);
  await page.getByLabel('Roles', { exact: true }).fill(user.roles);
  await submit(page, page.getByRole('button', { name: 'Create user', exact: true }), hydrated);
}

test('an admin creates a user, who can then sign in', async ({ page, hydrated }) => {
  const username = uniqueName('op');
  const password = `pw-${uniqueName('secret')}`;
  await signIn(page, { hydrated });
  await createUser(page, hydrated, { username, password, roles: 'operator', email: `${username}@example.com` });

  await expect(page.getByRole('table').getByRole('row').filter({ hasText: username })).toContainText('operator');

  await signOutButton(page).click();
  await expect(page).toHaveURL(pathIs('/login'));
  await submitSignIn(page, { hydrated, username, password });
  await expect(page).toHaveURL(pathIs('/'));
  await expect(processesHeading(page)).toBeVisible();
  await expect(page.getByRole('link', { name: 'Register process', exact: true })).toBeVisible();
  // An operator is not an admin.
  await expect(navigation(page).getByRole('link', { name: 'Users', exact: true })).toHaveCount(0);
});

test('creating a user with a bad name shows the problem at the field', async ({ page, hydrated }) => {
  await signIn(page, { hydrated });
  await createUser(page, hydrated, { username: 'no spaces allowed', password: 'long-enough-pw-1', roles: 'viewer' });
  await expect(page.getByText(/invalid character ' ' in username/)).toBeVisible();
});

test('a viewer sees processes but no controls, and no admin pages', async ({
  page,
  processName,
  hydrated,
}) => {
  const username = uniqueName('viewer');
  const password = `pw-${uniqueName('secret')}`;
  await signIn(page, { hydrated });
  await createUser(page, hydrated, { username, password, roles: 'viewer' });
  await signOutButton(page).click();
  await expect(page).toHaveURL(pathIs('/login'));

  await submitSignIn(page, { hydrated, username, password });
  await expect(processesHeading(page)).toBeVisible();
  const row = processRow(page, processName);
  await expect(row).toBeVisible();
  for (const name of ['Start', 'Stop', 'Restart', 'Edit', 'Unregister']) {
    await expect(row.getByRole('button', { name, exact: true })).toHaveCount(0);
    await expect(row.getByRole('link', { name, exact: true })).toHaveCount(0);
  }
  await expect(page.getByRole('link', { name: 'Register process', exact: true })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Stop selected', exact: true })).toHaveCount(0);
  for (const name of ['Users', 'API clients', 'Settings']) {
    await expect(navigation(page).getByRole('link', { name, exact: true })).toHaveCount(0);
  }
  for (const name of ['Processes', 'Jobs', 'CronJobs', 'Groups', 'History']) {
    await expect(navigation(page).getByRole('link', { name, exact: true })).toBeVisible();
  }

  // Typing the address does not help: the page and its server functions refuse.
  await open(page, '/users', hydrated);
  await expect(alert(page)).toHaveText('You do not have permission to do this.');
  const rpc = await page.request.post('/rpc/users/list', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    data: '',
  });
  expect(rpc.status()).toBeGreaterThanOrEqual(400);
  const register = await page.request.post('/rpc/processes/stop', {
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    data: `name=${processName}`,
  });
  expect(register.status()).toBeGreaterThanOrEqual(400);
});

test('an admin sees every page in the navigation', async ({ page, hydrated }) => {
  await signIn(page, { hydrated });
  for (const name of ['Processes', 'Jobs', 'CronJobs', 'Groups', 'History', 'Users', 'API clients', 'Settings']) {
    await expect(navigation(page).getByRole('link', { name, exact: true })).toBeVisible();
  }
  await navigation(page).getByRole('link', { name: 'API clients', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'API clients', exact: true })).toBeVisible();
  await expect(page.getByLabel('Name', { exact: true })).toBeVisible();
  await expect(page.getByLabel('Scopes', { exact: true })).toBeVisible();
});
