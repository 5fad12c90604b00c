import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Sources(_props: PageProps) {
  return (
    <Page title="Sources">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
