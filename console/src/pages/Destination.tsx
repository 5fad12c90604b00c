import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Destination(_props: PageProps) {
  return (
    <Page title="Destination">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
