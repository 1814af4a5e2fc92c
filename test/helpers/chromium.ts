/**
 * The headless-Chromium rig of the page tests (the report, `exp show --html`): open a file in the
 * real browser (Debian's chromium driven by playwright-core), collect console errors, requests
 * and what every `<figure class="chart">` drew, and save screenshots under test-artifacts/.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from './rig.js';

// TAILOR_TEST_CHROMIUM: another Chromium binary (or a missing path, to see the skip).
export const CHROMIUM = process.env.TAILOR_TEST_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const ARTIFACTS = join(REPO, 'test-artifacts');

/** Why the browser tests cannot run here, or undefined when they can. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `chromium not installed: ${CHROMIUM} is missing (apt-get install chromium); the HTML checks still ran`;
}

export interface ChartSeen {
  id: string;
  width: number;
  height: number;
  visibleMarks: number;
  legend: number;
}

export interface PageSeen {
  url: string;
  /** Console errors and warnings, page errors. */
  errors: string[];
  /** Every request but the page itself. */
  requests: string[];
  charts: ChartSeen[];
  images: Array<{ ok: boolean; alt: string }>;
  /** How many px the page is wider than the window (<= 0: no sideways scrolling). */
  overflow: number;
}

/** Open `file` at 1366×768, look at it, and save `<shot>-top.png` and `<shot>-full.png`. */
export async function viewPage(file: string, shot: string): Promise<PageSeen> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') errors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url, { waitUntil: 'load' });
    const charts = await page.$$eval('figure.chart', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        const marks = [...f.querySelectorAll('.mark')].filter((m) => {
          const b = (m as SVGGraphicsElement).getBBox();
          return b.width > 0 || b.height > 0;
        });
        return {
          id: f.getAttribute('data-chart') ?? '',
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          visibleMarks: marks.length,
          legend: f.querySelectorAll('g.legend text').length,
        };
      }),
    );
    const images = await page.$$eval('img', (imgs) =>
      imgs.map((i) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.alt })),
    );
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, `${shot}-top.png`) });
    await page.screenshot({ path: join(ARTIFACTS, `${shot}-full.png`), fullPage: true });
    return { url, errors, requests: requests.filter((r) => r !== url), charts, images, overflow };
  } finally {
    await browser.close();
  }
}
