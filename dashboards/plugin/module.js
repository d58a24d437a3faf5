// The smallest frontend Grafana loads for a backend datasource: queries go
// to the Go backend as they are ({queryType, limit}); there is no query
// editor, so edit targets in the dashboard JSON.
define(['@grafana/data', '@grafana/runtime'], function (data, runtime) {
  class QuellDataSource extends runtime.DataSourceWithBackend {}
  return { plugin: new data.DataSourcePlugin(QuellDataSource) };
});
