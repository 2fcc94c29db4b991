/**
 * Shared steps for the console specs: locators, actions and checks live here so the specs read
 * as the behaviour they test. Locators go by role and accessible name only (the names are part
 * of the console's contract, see DESIGN.md), and nothing waits a fixed time: every wait is an
 * auto-retrying `expect`.
 */
import { randomBytes } from 'node:crypto';
import {
  test as base,
  expect,
  type APIRequestContext,
  type APIResponse,
  type Locator,
  type Page,
} from '@playwright/test';

export { expect };

/** The admin account the harness created (`[auth.admin]` in the config it writes). */
export const admin = {
  get username(): string {
    return process.env.PROVISR_ADMIN_USER ?? 'admin';
  },
  get password(): string {
    const password = process.env.PROVISR_ADMIN_PASSWORD;
    if (!password) {
      throw new Error(
        'PROVISR_ADMIN_PASSWORD is not set (`cargo xtask e2e` sets it; by hand, export the ' +
          "admin's password)",
      );
    }
    return password;
  },
};

/** The error a failed sign-in shows, the same for a wrong password and an unknown user. */
export const SIGN_IN_ERROR = 'Invalid username or password.';

/** The words the console uses for a process's state. */
export type ProcessState =
  | 'running'
  | 'stopped'
  | 'exited'
  | 'starting'
  | 'stopping'
  | 'backoff'
  | 'fatal';

/** `GET /api/status?name=…` (only the fields the specs read). */
export interface ProcessStatus {
  name: string;
  state: ProcessState;
  pid?: number | null;
}

/** The JSON API, authenticated with HTTP Basic as the admin. */
export class Api {
  constructor(private readonly request: APIRequestContext) {}

  private get headers(): Record<string, string> {
    const credentials = Buffer.from(`${admin.username}:${admin.password}`).toString('base64');
    return { Authorization: `Basic ${credentials}` };
  }

  /** Registers a process and starts it. */
  async register(name: string, command: string, extra: Record<string, unknown> = {}): Promise<void> {
    const response = await this.request.post('/api/register', {
      headers: this.headers,
      data: { name, command, ...extra },
    });
    await ok(response, `register ${name}`);
  }

  async start(name: string): Promise<void> {
    await ok(await this.post('/api/start', name), `start ${name}`);
  }

  /** Stops a process; the API answers once it has stopped. */
  async stop(name: string): Promise<void> {
    await ok(await this.post('/api/stop', name), `stop ${name}`);
  }

  async status(name: string): Promise<ProcessStatus> {
    const response = await this.request.get('/api/status', {
      headers: this.headers,
      params: { name },
    });
    await ok(response, `status of ${name}`);
    return (await response.json()) as ProcessStatus;
  }

  async state(name: string): Promise<ProcessState> {
    return (await this.status(name)).state;
  }

  /** Stops (if needed) and unregisters a process; a process that is already gone is fine. */
  async remove(name: string): Promise<void> {
    await this.post('/api/stop', name); // best effort: it may already be stopped
    const response = await this.post('/api/unregister', name);
    if (response.status() !== 404) {
      await ok(response, `unregister ${name}`);
    }
  }

  /** Stops and unregisters every instance of `base`. */
  async removeInstances(base: string): Promise<void> {
    await this.request.post('/api/stop', { headers: this.headers, params: { base } });
    await ok(
      await this.request.post('/api/unregister', { headers: this.headers, params: { base } }),
      `unregister ${base}`,
    );
  }

  private post(path: string, name: string): Promise<APIResponse> {
    return this.request.post(path, { headers: this.headers, params: { name } });
  }
}

async function ok(response: APIResponse, what: string): Promise<void> {
  if (!response.ok()) {
    throw new Error(
      `${what}: ${response.url()} answered ${response.status()}: ${await response.text()}`,
    );
  }
}

/** The JSON API on top of Playwright's request context (baseURL and TLS from the config). */
export function api(request: APIRequestContext): Api {
  return new Api(request);
}

/** A process name no other test (or earlier run) uses. */
export function uniqueName(prefix = 'e2e'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Matches a page URL whose path is exactly `path` (any query or fragment). */
export function pathIs(path: string): RegExp {
  return new RegExp(`^https?://[^/]+${escapeRegExp(path)}(?:[?#].*)?$`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Waits until the WASM has hydrated the page: the app then sets `data-hydrated` on `<body>`.
 * Clicking before that could be lost, or fall back to a plain form post.
 */
export async function waitHydrated(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', { timeout: 20_000 });
}

export interface SignInOptions {
  /** Whether the page runs the WASM (false in the JavaScript-disabled project). */
  hydrated: boolean;
  username?: string;
  password?: string;
}

/** Opens `/login` and submits the form; checks nothing about the outcome. */
export async function submitSignIn(page: Page, options: SignInOptions): Promise<void> {
  await page.goto('/login');
  if (options.hydrated) {
    await waitHydrated(page);
  }
  await page.getByLabel('Username', { exact: true }).fill(options.username ?? admin.username);
  await page.getByLabel('Password', { exact: true }).fill(options.password ?? admin.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Signs in as the admin and checks that the browser lands on the Processes page. */
export async function signIn(page: Page, options: SignInOptions): Promise<void> {
  await submitSignIn(page, options);
  await expect(page).toHaveURL(pathIs('/'));
  await expect(processesHeading(page)).toBeVisible();
}

export function processesHeading(page: Page): Locator {
  return page.getByRole('heading', { name: 'Processes', exact: true });
}

/** The console's navigation (the landmark that links to Processes). */
export function navigation(page: Page): Locator {
  return page
    .getByRole('navigation')
    .filter({ has: page.getByRole('link', { name: 'Processes', exact: true }) });
}

/** The "Sign out" button of the console's header. */
export function signOutButton(page: Page): Locator {
  return page.getByRole('button', { name: 'Sign out', exact: true });
}

/** The visible, non-empty alert (live regions may exist empty). */
export function alert(page: Page): Locator {
  return page.getByRole('alert').filter({ hasText: /\S/ });
}

/** The Processes table row of one process. */
export function processRow(page: Page, name: string): Locator {
  return page.getByRole('table').getByRole('row').filter({ hasText: name });
}

/**
 * A cell of `row` whose text contains `word` as a whole word (so `stopped` never matches
 * `stopping`, and a pid never matches part of another number). Cells, because a row's text
 * content runs its cells together without spaces.
 */
export function cellWith(row: Locator, word: string): Locator {
  return row.getByRole('cell', { name: new RegExp(`(^|\\s)${escapeRegExp(word)}(\\s|$)`) });
}

/** Checks that a row shows `state`. */
export async function expectRowState(row: Locator, state: ProcessState): Promise<void> {
  await expect(cellWith(row, state)).toBeVisible();
}

/**
 * Clicks one of a row's buttons ("Start", "Stop"). Without JavaScript the button submits a form,
 * so this also waits for the page that the post leads to.
 */
export async function clickRowButton(
  page: Page,
  row: Locator,
  name: 'Start' | 'Stop' | 'Restart',
  hydrated: boolean,
): Promise<void> {
  const button = row.getByRole('button', { name, exact: true });
  if (hydrated) {
    await button.click();
  } else {
    const loaded = page.waitForEvent('load');
    await button.click();
    await loaded;
  }
}

type Fixtures = {
  /** True when the page runs JavaScript (and so hydrates); false in `chromium-nojs`. */
  hydrated: boolean;
  /** The JSON API as the admin. */
  api: Api;
  /**
   * A fresh `sleep 300` process, registered through the API and running before the test
   * starts; it is stopped and unregistered after the test, whatever the outcome.
   */
  processName: string;
};

export const test = base.extend<Fixtures>({
  hydrated: async ({ javaScriptEnabled }, use) => {
    await use(javaScriptEnabled !== false);
  },
  api: async ({ request }, use) => {
    await use(api(request));
  },
  processName: async ({ api }, use) => {
    const name = uniqueName();
    await api.register(name, 'sleep 300');
    await expect.poll(() => api.state(name), { message: `${name} should run` }).toBe('running');
    await use(name);
    await api.remove(name);
  },
});

/** The process the harness defines in the config file (read-only in the console). */
export function configProcessName(): string {
  return process.env.PROVISR_CONFIG_PROCESS ?? 'e2e-config';
}

/**
 * Clicks a submit button. Without JavaScript the form posts and the browser loads the page the
 * post leads to, so this waits for that load too.
 */
export async function submit(page: Page, button: Locator, hydrated: boolean): Promise<void> {
  if (hydrated) {
    await button.click();
  } else {
    const loaded = page.waitForEvent('load');
    await button.click();
    await loaded;
  }
}

/** Opens a console page; with JavaScript, waits until it is hydrated. */
export async function open(page: Page, path: string, hydrated: boolean): Promise<void> {
  await page.goto(path);
  if (hydrated) {
    await waitHydrated(page);
  }
}

/** The "Register process" form, filled with a name and command and submitted. */
export async function registerThroughForm(
  page: Page,
  hydrated: boolean,
  fields: { name: string; command: string; workDir?: string; env?: string },
): Promise<void> {
  await open(page, '/', hydrated);
  await page.getByRole('link', { name: 'Register process', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'Register process', exact: true })).toBeVisible();
  if (hydrated) {
    await waitHydrated(page);
  }
  await page.getByLabel('Name', { exact: true }).fill(fields.name);
  await page.getByLabel('Command', { exact: true }).fill(fields.command);
  if (fields.workDir !== undefined) {
    await page.getByLabel('Work dir', { exact: true }).fill(fields.workDir);
  }
  if (fields.env !== undefined) {
    await page.getByLabel('Env', { exact: true }).fill(fields.env);
  }
  await submit(page, page.getByRole('button', { name: 'Register', exact: true }), hydrated);
}

/** The group the harness defines in the config file, and its members (config processes). */
export function configGroup(): { name: string; members: string[] } {
  return {
    name: process.env.PROVISR_CONFIG_GROUP ?? 'e2e-group',
    members: (process.env.PROVISR_CONFIG_GROUP_MEMBERS ?? 'e2e-group-a,e2e-group-b').split(','),
  };
}

/**
 * Waits until `check` passes. With JavaScript the page updates itself; without it the test
 * reloads the page between tries (that is how such a user sees a change).
 */
export async function eventuallyOnPage(
  page: Page,
  hydrated: boolean,
  check: () => Promise<void>,
): Promise<void> {
  if (hydrated) {
    await check();
    return;
  }
  await expect(async () => {
    await page.reload();
    await check();
  }).toPass({ timeout: 15_000 });
}
