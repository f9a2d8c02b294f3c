export function NotBuilt({ title, planned }: { title: string; planned: string }) {
  return (
    <section>
      <h1>{title}</h1>
      <p class="notice" role="status">
        This page is not built yet. It will show: {planned}.
      </p>
      <p>Until then, the same APIs are available to the AWS CLI and SDKs pointed at this server.</p>
    </section>
  );
}
