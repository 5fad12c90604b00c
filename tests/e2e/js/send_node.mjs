// Send one message of every Segment call type to a Seamline server with the official
// @segment/analytics-node SDK, then flush. Usage: node send_node.mjs SERVER_URL WRITE_KEY
// tests/e2e/test_node_sdk.py holds the expected values; keep both in step.
import { Analytics } from '@segment/analytics-node'

const [url, writeKey] = process.argv.slice(2)
if (!url || !writeKey) {
  console.error('usage: node send_node.mjs SERVER_URL WRITE_KEY')
  process.exit(2)
}

// flushAt 4 sends the six messages as two /v1/batch requests, so batching is exercised too.
const analytics = new Analytics({ writeKey, host: url, flushAt: 4, maxRetries: 0 })
analytics.on('error', (error) => {
  console.error('analytics-node error:', error)
  process.exitCode = 1
})
analytics.on('http_request', (request) => {
  console.error(`analytics-node: ${request.method} ${request.url}`)
})

const timestamp = new Date('2024-05-06T07:08:09.123Z')
const userId = 'node-user-1'

analytics.identify({
  userId,
  messageId: 'node-identify-1',
  timestamp,
  traits: { email: 'ada@example.com', plan: 'pro', logins: 7 },
})
analytics.track({
  userId,
  anonymousId: 'node-anon-1',
  messageId: 'node-track-1',
  timestamp,
  event: 'Order Completed',
  properties: { orderId: 'o-123', revenue: 42.5, products: [{ sku: 'sku-1', quantity: 2 }] },
})
analytics.page({
  userId,
  messageId: 'node-page-1',
  timestamp,
  category: 'Docs',
  name: 'Pricing',
  properties: { path: '/pricing', referrer: 'https://example.org/' },
})
analytics.screen({
  userId,
  messageId: 'node-screen-1',
  timestamp,
  category: 'Onboarding',
  name: 'Welcome',
  properties: { step: 1 },
})
analytics.group({
  userId,
  messageId: 'node-group-1',
  timestamp,
  groupId: 'org-9',
  traits: { name: 'Acme Inc', employees: 250 },
})
analytics.alias({
  userId,
  previousId: 'node-anon-1',
  messageId: 'node-alias-1',
  timestamp,
})

await analytics.closeAndFlush({ timeout: 20000 })
