// Install snippets for the official SDKs, with this server's origin and a source's write key
// filled in (the same lines `seamline serve` prints on start: src/seamline/cli/banner.py).

export type SnippetId = "next" | "classic" | "python" | "node" | "curl";

export interface Snippet {
  id: SnippetId;
  label: string;
  intro: string;
  code: (origin: string, key: string) => string;
}

const js = (text: string) => JSON.stringify(text);

const FIRST_EVENT = JSON.stringify({ userId: "user-1", event: "Signed Up", properties: { plan: "pro" } });

/** One curl line that sends a first track call with `key` to `origin`. */
export function curlLine(origin: string, key: string): string {
  return `curl -u '${key}:' -H 'Content-Type: application/json' -d '${FIRST_EVENT}' ${origin}/v1/track`;
}

export const SNIPPETS: readonly Snippet[] = [
  {
    id: "next",
    label: "Website (npm)",
    intro:
      "Install @segment/analytics-next. Seamline serves the settings the browser SDK loads, so pointing cdnURL here is all it takes.",
    code: (origin, key) =>
      [
        "import { AnalyticsBrowser } from '@segment/analytics-next'",
        "",
        `export const analytics = AnalyticsBrowser.load({ writeKey: ${js(key)}, cdnURL: ${js(origin)} })`,
        "",
        "analytics.page()",
        "analytics.track('Button Clicked', { color: 'green' })",
      ].join("\n"),
  },
  {
    id: "classic",
    label: "Website (script tag)",
    intro:
      "Paste into your page's <head>. Host analytics.min.js yourself (the file dist/umd/standalone.js of @segment/analytics-next) and put its address in ANALYTICS_JS; analytics._cdn makes it load its settings from Seamline and send here.",
    code: (origin, key) =>
      [
        "<script>",
        "  var ANALYTICS_JS = '/analytics.min.js'; // where your site serves analytics.min.js",
        "  !function(){var a=window.analytics=window.analytics||[];if(a.initialize||a.invoked)return;a.invoked=!0;",
        "  a.methods=['track','identify','page','group','alias','screen','reset','ready','debug','on','off','once',",
        "  'trackLink','trackForm','setAnonymousId','addSourceMiddleware','addDestinationMiddleware'];",
        "  a.factory=function(m){return function(){var args=[].slice.call(arguments);args.unshift(m);a.push(args);return a}};",
        "  for(var i=0;i<a.methods.length;i++){a[a.methods[i]]=a.factory(a.methods[i])}",
        "  a.load=function(key,options){var s=document.createElement('script');s.async=!0;s.src=ANALYTICS_JS;",
        "  var first=document.getElementsByTagName('script')[0];first.parentNode.insertBefore(s,first);",
        "  a._writeKey=key;a._loadOptions=options};",
        `  a._cdn=${js(origin)};`,
        "  a.SNIPPET_VERSION='4.15.3';",
        `  analytics.load(${js(key)});`,
        "  analytics.page();",
        "  }();",
        "</script>",
      ].join("\n"),
  },
  {
    id: "python",
    label: "Python",
    intro: "pip install segment-analytics-python, then:",
    code: (origin, key) =>
      [
        "import segment.analytics as analytics",
        "",
        `analytics.write_key = ${js(key)}`,
        `analytics.host = ${js(origin)}`,
        "",
        "analytics.track('user-1', 'Signed Up', {'plan': 'pro'})",
        "analytics.flush()",
      ].join("\n"),
  },
  {
    id: "node",
    label: "Node",
    intro: "npm install @segment/analytics-node, then:",
    code: (origin, key) =>
      [
        "import { Analytics } from '@segment/analytics-node'",
        "",
        `const analytics = new Analytics({ writeKey: ${js(key)}, host: ${js(origin)} })`,
        "",
        "analytics.track({ userId: 'user-1', event: 'Signed Up', properties: { plan: 'pro' } })",
        "await analytics.closeAndFlush()",
      ].join("\n"),
  },
  {
    id: "curl",
    label: "curl",
    intro: "A first event from a terminal:",
    code: curlLine,
  },
];
