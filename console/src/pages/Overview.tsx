import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Overview(_props: PageProps) {
  return (
    <Page title="Overview">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
