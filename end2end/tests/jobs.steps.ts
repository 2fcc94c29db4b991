/**
 * Shared steps of the Jobs and CronJobs specs: the jobs API as the admin (for setup and
 * cleanup), the config-file cronjob's name, and locators of the pages.
 */
import { type APIRequestContext, type Locator, type Page } from '@playwright/test';
import { admin, expect } from './fixtures';

/** The cronjob the harness defines in the config file (read-only in the console). */
export function configCronjobName(): string {
  return process.env.PROVISR_CONFIG_CRONJOB ?? 'e2e-config-cron';
}

/** `/api/jobs` and `/api/cronjobs` as the admin. */
export class JobsApi {
  constructor(private readonly request: APIRequestContext) {}

  private get headers(): Record<string, string> {
    const credentials = Buffer.from(`${admin.username}:${admin.password}`).toString('base64');
    return { Authorization: `Basic ${credentials}` };
  }

  async createJob(spec: Record<string, unknown>): Promise<void> {
    const response = await this.request.post('/api/jobs', { headers: this.headers, data: spec });
    expect(response.status(), await response.text()).toBe(201);
  }

  /** The job's status, or `null` when there is no live job of that name. */
  async job(name: string): Promise<{ phase: string } | null> {
    const response = await this.request.get(`/api/jobs/${name}`, { headers: this.headers });
    if (response.status() === 404) {
      return null;
    }
    expect(response.ok(), await response.text()).toBeTruthy();
    return ((await response.json()) as { status: { phase: string } }).status;
  }

  /** Every live job's name. */
  async jobNames(): Promise<string[]> {
    const response = await this.request.get('/api/jobs', { headers: this.headers });
    expect(response.ok(), await response.text()).toBeTruthy();
    return ((await response.json()) as { name: string }[]).map((j) => j.name);
  }

  async cronjob(name: string): Promise<{ suspended: boolean } | null> {
    const response = await this.request.get(`/api/cronjobs/${name}`, { headers: this.headers });
    if (response.status() === 404) {
      return null;
    }
    expect(response.ok(), await response.text()).toBeTruthy();
    return ((await response.json()) as { status: { suspended: boolean } }).status;
  }

  /** Deletes a job or cronjob if it is still there (cleanup). */
  async remove(kind: 'jobs' | 'cronjobs', name: string): Promise<void> {
    await this.request.delete(`/api/${kind}/${name}`, { headers: this.headers });
  }
}

/** The row of `name` in the page's table. */
export function row(page: Page, name: string): Locator {
  return page.getByRole('row').filter({ has: page.getByRole('link', { name, exact: true }) });
}

/** The "Status" section of a detail page. */
export function statusSection(page: Page): Locator {
  return page.getByRole('region', { name: 'Status', exact: true });
}

/** The phase badge of a job detail page's "Status" section. */
export function phase(page: Page): Locator {
  return statusSection(page).locator('.state').first();
}

/**
 * Waits until `check` passes. Hydrated, the page must update by itself (the live socket);
 * without JavaScript, the page is reloaded between tries.
 */
export async function eventually(page: Page, hydrated: boolean, check: () => Promise<void>): Promise<void> {
  if (hydrated) {
    await check();
    return;
  }
  await expect(async () => {
    await page.reload();
    await check();
  }).toPass({ timeout: 20_000 });
}
