// The operations dashboard: an Azure Monitor workbook on Application Insights, shared in the
// resource group (Azure portal > Monitor > Workbooks, or the Application Insights resource >
// Workbooks). Panels are in workbooks/operations.json; tests/infra checks they query names that
// shared/telemetry.py emits.
param location string = resourceGroup().location
param tags object = {}
param applicationInsightsId string
param displayName string = 'Loonbrug operations'

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's resource name must be a GUID; stable per resource group so redeploys update it.
  name: guid(resourceGroup().id, 'loonbrug-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsightsId
    serializedData: loadTextContent('workbooks/operations.json')
  }
}

output id string = workbook.id
