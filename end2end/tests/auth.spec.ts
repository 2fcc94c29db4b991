/**
 * Signing in and out. Runs in both projects: the sign-in form must work before (and without)
 * the WASM, like every other form of the console.
 */
import {
  admin,
  alert,
  expect,
  navigation,
  pathIs,
  signIn,
  signOutButton,
  SIGN_IN_ERROR,
  submitSignIn,
  test,
  uniqueName,
} from './fixtures';

test('an anonymous visit to / is sent to /login', async ({ page }) => {
  await page.goto('/');
  await expect(page).toHaveURL(pathIs('/login'));
  await expect(page.getByLabel('Username', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign in', exact: true })).toBeVisible();
});

test('signing in lands on the Processes page', async ({ page, hydrated }) => {
  await signIn(page, { hydrated });

  await expect(page.getByRole('table')).toBeVisible();
  await expect(navigation(page).getByRole('link', { name: 'Processes', exact: true })).toBeVisible();
  await expect(signOutButton(page)).toBeVisible();
});

test('signing out returns to /login and ends the session', async ({ page, hydrated }) => {
  await signIn(page, { hydrated });

  await signOutButton(page).click();
  await expect(page).toHaveURL(pathIs('/login'));

  await page.goto('/');
  await expect(page).toHaveURL(pathIs('/login'));
});

test('a wrong password and an unknown user get the identical error', async ({ page, hydrated }) => {
  // Both cases must read the same, or the form would tell who has an account.
  const attempts = [
    { username: admin.username, password: `not-${admin.password}` },
    { username: uniqueName('nobody'), password: admin.password },
  ];
  const shown: string[] = [];
  for (const credentials of attempts) {
    await submitSignIn(page, { hydrated, ...credentials });
    await expect(alert(page)).toHaveText(SIGN_IN_ERROR);
    await expect(page).toHaveURL(pathIs('/login'));
    shown.push(await alert(page).innerText());
  }
  expect(shown[0]).toBe(shown[1]);
});
