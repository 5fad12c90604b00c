import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Protocols(_props: PageProps) {
  return (
    <Page title="Protocols">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
