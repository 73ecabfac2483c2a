// The storage account behind AzureWebJobsStorage: host state, timer checkpoints, the sync queue
// and the app's tables, plus the Flex deployment container. Keyless: shared-key access is off and
// the Function App reaches it with its managed identity (roles in rbac.bicep).
param name string
param location string = resourceGroup().location
param tags object = {}
param deploymentContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: default action Allow on purpose; Flex Consumption without VNet integration reaches storage over the public endpoint, and every request still needs Entra ID (shared keys are off).
  // checkov:skip=CKV_AZURE_206: ZRS (zone-redundant) rather than geo-redundant: the app runs in one region with no geo-failover plan, so a secondary region's copy would go unused.
  // checkov:skip=CKV_AZURE_59: public network access needed for the same reason as CKV_AZURE_35; anonymous blob access and shared keys are off.
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    // Zone-redundant: the booking ledger and tokens live in these tables.
    name: 'Standard_ZRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobServices 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

// Flex Consumption deploys the app package from this container (with the managed identity).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
