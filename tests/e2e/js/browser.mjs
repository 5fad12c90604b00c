// Open a test page in Debian's Chromium and wait until it sets `window.done`.
// Usage: node browser.mjs PAGE_URL [TIMEOUT_MS]
//
// Prints to stdout one JSON object: {"requests": [{method, url, status, headers}]} for every
// request the page made and got a response to (CORS preflights are not among them).
// Console errors, page errors and failed requests go to stderr as they happen; a page that
// sets `window.failed`, throws, has a request fail or does not finish in time makes the exit
// code non-zero.
import { setTimeout as sleep } from 'node:timers/promises'
import { chromium } from 'playwright-core'

const [pageUrl, timeoutArg] = process.argv.slice(2)
if (!pageUrl) {
  console.error('usage: node browser.mjs PAGE_URL [TIMEOUT_MS]')
  process.exit(2)
}
const timeout = Number(timeoutArg ?? 30000)

// Only loopback is reachable here: any host other than localhost and 127.0.0.1 fails fast instead of
// going out to the network. (Intercepting with page.route would answer CORS preflights itself
// and hide CORS bugs, so requests are only observed, never routed.)
const args = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
]

// launch() gives Chromium a new, empty profile directory and removes it on close.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args,
  timeout,
})
const requests = []
const inFlight = new Set()
let failed = false
try {
  const page = await browser.newPage()
  page.on('request', (request) => inFlight.add(request))
  page.on('requestfinished', (request) => inFlight.delete(request))
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      console.error(`console.${message.type()}: ${message.text()}`)
    }
  })
  page.on('pageerror', (error) => {
    console.error(`page error: ${error.stack ?? error}`)
    failed = true
  })
  page.on('requestfailed', (request) => {
    inFlight.delete(request)
    failed = true
    console.error(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`)
  })
  page.on('response', (response) => {
    const request = response.request()
    requests.push({
      method: request.method(),
      url: request.url(),
      status: response.status(),
      headers: response.headers(),
    })
  })

  await page.goto(pageUrl, { timeout })
  const outcome = await page.waitForFunction(() => window.done || window.failed, null, { timeout })
  const value = await outcome.jsonValue()
  if (value !== true) {
    console.error(`page failed: ${value}`)
    failed = true
  }
  // Let the SDK's last deliveries finish before the browser goes away.
  const deadline = Date.now() + timeout
  while (inFlight.size > 0) {
    if (Date.now() > deadline) {
      throw new Error(`requests still in flight: ${[...inFlight].map((r) => r.url()).join(', ')}`)
    }
    await sleep(50)
  }
} catch (error) {
  console.error(`browser.mjs: ${error.stack ?? error}`)
  failed = true
} finally {
  await browser.close()
}
console.log(JSON.stringify({ requests }))
process.exit(failed ? 1 : 0)
