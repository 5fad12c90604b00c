// Identity: the rules that join identifiers into profiles (in force, edit, preview, apply,
// versions) and the review of probabilistic match proposals (docs/identity.md).
import { Page, Tabs } from "../components/ui";
import { Proposals } from "../components/identity/Proposals";
import { RulesTab } from "../components/identity/RulesTab";
import "../components/identity/identity.css";
import type { PageProps } from "../pages";
import { navigate, useLocation } from "../router";

const TABS = [
  { id: "rules", label: "Identity rules" },
  { id: "review", label: "Match review" },
] as const;

type Tab = (typeof TABS)[number]["id"];

export default function Identity(_props: PageProps) {
  const { params } = useLocation();
  const current: Tab = TABS.find((t) => t.id === params.get("tab"))?.id ?? "rules";
  return (
    <Page title="Identity">
      <Tabs label="Identity" tabs={TABS} current={current} onChange={(id) => navigate(`/identity?tab=${id}`, true)} />
      <div role="tabpanel" aria-label={TABS.find((t) => t.id === current)?.label} className="page">
        {current === "rules" ? <RulesTab /> : <Proposals />}
      </div>
    </Page>
  );
}
