// A message as pretty JSON, in a scrolling box a keyboard can reach (axe: a scrollable region
// must be focusable; the shared Json block is not, yet).
export function JsonView({ value, label }: { value: unknown; label: string }) {
  return (
    <pre className="json" tabIndex={0} role="region" aria-label={label}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}
