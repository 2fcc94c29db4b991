import { defineConfig, devices } from '@playwright/test';

/**
 * End-to-end tests of the provisr console. `cargo xtask test` (or `cargo xtask e2e`) starts a
 * release server on a free port with a fresh database and sets BASE_URL, PROVISR_ADMIN_USER and
 * PROVISR_ADMIN_PASSWORD; by hand, point them at any running server (default: `cargo xtask serve`).
 *
 * The browser is Debian's Chromium (`apt-get install chromium`). Never run `npx playwright
 * install`: it downloads browsers, which this machine kind cannot do.
 */
const chromium = {
  ...devices['Desktop Chrome'],
  launchOptions: {
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox', // we run as root
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      // Keep Chromium from calling home on a network that is closed anyway.
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  },
};

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: process.env.BASE_URL ?? 'https://localhost:8443',
    ignoreHTTPSErrors: true, // the server's certificate is self-signed
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
  },
  projects: [
    // The console as people use it: server-rendered, then hydrated by the WASM.
    { name: 'chromium', use: chromium },
    // The same console before (or without) the WASM: every form must still work. Specs named
    // `*.hydrate.spec.ts` test live, JavaScript-only behaviour and are skipped here.
    {
      name: 'chromium-nojs',
      use: { ...chromium, javaScriptEnabled: false },
      testIgnore: /\.hydrate\.spec\.ts$/,
    },
  ],
});
