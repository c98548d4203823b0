// Takes docs/sales-order-page.png, the README's picture of the sales order page: starts
// `switchboard serve --demo-data` on an empty data dir and a free port, signs in as the demo
// agent, takes an order the way an agent does (source code, lines, upsell, coupon, payment), and
// photographs the page with the recap before submit. Run by scripts/screenshot.sh.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const bin = process.argv[2];
const out = process.argv[3];
const dir = mkdtempSync(join(tmpdir(), "sb-shot-"));
const node = spawn(bin, ["serve", "--demo-data", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", "inherit"],
});

// The node prints the agent's password and then `listening on http://ADDR`.
const started = new Promise((resolve, reject) => {
  let password = null;
  const timer = setTimeout(() => reject(new Error("the node did not start within 60 s")), 60000);
  createInterface({ input: node.stdout }).on("line", (line) => {
    const pw = line.match(/console account: agent password (\S+)/);
    if (pw) password = pw[1];
    const url = line.match(/^listening on (http:\/\/\S+)/);
    if (url) {
      clearTimeout(timer);
      resolve({ url: url[1], password });
    }
  });
  node.on("exit", (code) => reject(new Error(`the node exited (${code})`)));
});

let browser;
try {
  const { url, password } = await started;
  if (!password) throw new Error("the node printed no agent password");
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(15000);
  await page.goto(`${url}/sign-in`);
  await page.fill("#name", "agent");
  await page.fill("#password", password);
  await Promise.all([page.waitForLoadState(), page.click("#sign-in")]);

  await page.goto(`${url}/customers`);
  await page.fill("#new-name", "Katherine Johnson");
  await page.fill("#new-phone", "+1 757 555 0142");
  await page.fill("#new-email", "katherine@example.com");
  await Promise.all([page.waitForURL(/\/customers\/[^/]+$/), page.click("#create-customer")]);
  await page.selectOption("select[name=source_code]", "SPRING");
  await Promise.all([page.waitForURL(/\/orders\/[^/]+$/), page.click("#start-order")]);

  // Each form posts and the node answers with the page again: a refusal shows as `.error`.
  const submit = async (button) => {
    await Promise.all([page.waitForNavigation(), page.click(button)]);
    const error = await page.$(".error");
    if (error) throw new Error(`${button} was refused: ${await error.innerText()}`);
  };
  const addLine = async (product, quantity) => {
    await page.fill("#product", product);
    await page.fill("#quantity", String(quantity));
    await submit("#add-line-button");
  };
  await addLine("cable", 1);
  await addLine("headset", 1);
  await page.fill("#coupon", "WELCOME10");
  await submit("#apply-coupon");
  await page.fill("#pay-amount", "20.00");
  await submit("#add-payment");
  // Last, so that the page shows the upsell prompt for it.
  await addLine("headset", 1);

  await page.waitForSelector("#recap-table");
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  if (browser) await browser.close();
  node.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
}
