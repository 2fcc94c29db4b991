/**
 * The Groups page: a configured group with its state (running / degraded / stopped), its
 * members and their instances, and "Start" / "Stop" per group. Runs in both projects: the
 * buttons are forms that work without JavaScript.
 */
import {
  configGroup,
  eventuallyOnPage,
  expect,
  navigation,
  open,
  signIn,
  submit,
  test,
} from './fixtures';
import type { Locator, Page } from '@playwright/test';

const group = configGroup();

/** The group's section; its accessible name is the heading: group name and state. */
function groupSection(page: Page): Locator {
  return page.getByRole('region', { name: new RegExp(`^${group.name} `) });
}

async function expectGroupState(page: Page, hydrated: boolean, state: string): Promise<void> {
  await eventuallyOnPage(page, hydrated, async () => {
    await expect(page.getByRole('heading', { name: `${group.name} ${state}`, exact: true })).toBeVisible({
      timeout: hydrated ? 10_000 : 1_000,
    });
  });
}

function memberRow(page: Page, member: string): Locator {
  return groupSection(page).getByRole('row').filter({ hasText: member });
}

/** The member's own state (the second cell; the third lists its instances' states). */
function memberState(page: Page, member: string): Locator {
  return memberRow(page, member).getByRole('cell').nth(1);
}

test('the Groups page shows the configured group, its members and their instances', async ({
  page,
  api,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  await navigation(page).getByRole('link', { name: 'Groups', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Groups', exact: true })).toBeVisible();
  for (const member of group.members) {
    await api.start(member); // an earlier test may have left it stopped
  }
  await open(page, '/groups', hydrated);
  await expectGroupState(page, hydrated, 'running');
  for (const member of group.members) {
    await expect(memberState(page, member)).toHaveText('running');
    await expect(memberRow(page, member)).toContainText(`${member}: running`);
  }
});

test('Stop stops every member, Start starts them again; one stopped member makes it degraded', async ({
  page,
  api,
  hydrated,
}) => {
  await signIn(page, { hydrated });
  for (const member of group.members) {
    await api.start(member);
  }
  await open(page, '/groups', hydrated);
  await expectGroupState(page, hydrated, 'running');

  await submit(page, groupSection(page).getByRole('button', { name: 'Stop', exact: true }), hydrated);
  await expectGroupState(page, hydrated, 'stopped');
  for (const member of group.members) {
    await expect(memberState(page, member)).toHaveText('stopped');
    expect(await api.state(member)).toBe('stopped');
  }

  await submit(page, groupSection(page).getByRole('button', { name: 'Start', exact: true }), hydrated);
  await expectGroupState(page, hydrated, 'running');
  for (const member of group.members) {
    await expect.poll(() => api.state(member)).toBe('running');
  }

  await api.stop(group.members[0]);
  await expectGroupState(page, hydrated, 'degraded');
  await expect(memberState(page, group.members[0])).toHaveText('stopped');
  await expect(memberState(page, group.members[1])).toHaveText('running');

  await api.start(group.members[0]);
  await expectGroupState(page, hydrated, 'running');
});
