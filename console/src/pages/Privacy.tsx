import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Privacy(_props: PageProps) {
  return (
    <Page title="Privacy">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
