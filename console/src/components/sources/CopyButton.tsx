// Copies a text (a snippet, a write key) and says so where a screen reader hears it.
import { useState } from "react";

async function copy(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  // Plain http on a host name is not a secure context: the clipboard API is missing there.
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const done = document.execCommand("copy");
  area.remove();
  if (!done) throw new Error("the browser refused to copy; select the text and copy it by hand");
}

export function CopyButton({ text, label }: { text: string; label: string }) {
  const [said, setSaid] = useState("");
  return (
    <span className="copy">
      <button
        type="button"
        className="button secondary"
        onClick={() => {
          copy(text).then(
            () => setSaid("Copied"),
            (failed: unknown) => setSaid(failed instanceof Error ? failed.message : String(failed)),
          );
        }}
      >
        {label}
      </button>
      <span className="muted small" role="status">
        {said}
      </span>
    </span>
  );
}
