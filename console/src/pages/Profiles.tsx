import { Page } from "../components/ui";
import type { PageProps } from "../pages";

export default function Profiles(_props: PageProps) {
  return (
    <Page title="Profiles">
      <p className="muted">This page is being built.</p>
    </Page>
  );
}
