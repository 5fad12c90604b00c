import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Debugger(_props: PageProps) {
  return (
    <Page title="Debugger">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
