import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Destinations(_props: PageProps) {
  return (
    <Page title="Destinations">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
