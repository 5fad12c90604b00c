// A source's write key, with copy, and (for who may change the source) rotation behind an
// inline confirmation: the old key stops working at once.
import { useState } from "react";
import { post } from "../../api";
import { canChangeSource } from "./access";
import { ActionButton, Card } from "../ui";
import { CopyButton } from "./CopyButton";
import { sourcePath, type SourceView } from "./types";


export function WriteKey({ source, onChanged }: { source: SourceView; onChanged: (next: SourceView) => void }) {
  const [asking, setAsking] = useState(false);
  const [rotated, setRotated] = useState(false);
  return (
    <Card title="Write key">
      <p className="muted small">
        SDKs send with this key. It is a public client key: it goes into your website's code.
      </p>
      <div className="row">
        <code className="write-key" aria-label="Write key">
          {source.write_key}
        </code>
        {source.write_key_masked ? null : <CopyButton text={source.write_key} label="Copy write key" />}
      </div>
      {rotated ? (
        <p className="notice" role="status">
          New write key in place. The old one no longer works: update your snippets.
        </p>
      ) : null}
      {!canChangeSource(source) ? null : asking ? (
        <div className="confirm" role="group" aria-label="Confirm rotation">
          <p>Everything still sending with the current key will be refused from now on. Rotate the key?</p>
          <div className="row">
            <ActionButton
              kind="danger"
              action={async () => {
                const answer = await post<{ data: SourceView }>(`${sourcePath(source.id)}/rotate-write-key`);
                setAsking(false);
                setRotated(true);
                onChanged(answer.data);
              }}
            >
              Yes, rotate the key
            </ActionButton>
            <button type="button" className="button secondary" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <div className="row">
          <button type="button" className="button secondary" onClick={() => setAsking(true)}>
            Rotate write key
          </button>
        </div>
      )}
    </Card>
  );
}
