import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Trace(_props: PageProps) {
  return (
    <Page title="Trace">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
