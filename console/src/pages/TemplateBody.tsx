// The JSON editor of a provisioning template body (create, new version): JSON mistakes are
// shown under it as they are typed; what the API objects to (an unknown resource type, a
// missing property) comes back from the call and is shown by the form that sent it.

import { JsonField, useJsonText } from "./JsonField";

/** A fleet provisioning template to start from: a thing named from a parameter, and its certificate. */
export const SAMPLE_BODY = JSON.stringify(
  {
    Parameters: { SerialNumber: { Type: "String" } },
    Resources: {
      thing: {
        Type: "AWS::IoT::Thing",
        Properties: { ThingName: { "Fn::Join": ["", ["device_", { Ref: "SerialNumber" }]] } },
      },
      certificate: {
        Type: "AWS::IoT::Certificate",
        Properties: { CertificateId: { Ref: "AWS::IoT::Certificate::Id" }, Status: "ACTIVE" },
      },
    },
  },
  null,
  2,
);

/** A template body being typed, checked as JSON (an object) as it changes. */
export const useTemplateBody = (initial: string) => useJsonText(initial, "object", "A template body");

export function TemplateBody({ id, value, error, onInput }: { id: string; value: string; error?: string; onInput: (text: string) => void }) {
  return (
    <JsonField
      id={id}
      label="Template body (JSON)"
      rows={14}
      value={value}
      error={error}
      hint="Parameters and Resources (AWS::IoT::Thing, AWS::IoT::Certificate, AWS::IoT::Policy); the server checks the resources when it is saved."
      onInput={onInput}
    />
  );
}
