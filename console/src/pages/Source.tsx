import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Source(_props: PageProps) {
  return (
    <Page title="Source">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
