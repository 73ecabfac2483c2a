// The storage account behind AzureWebJobsStorage: host state, timer checkpoints, the sync queue
// and the app's tables, plus the Flex deployment container. Keyless: shared-key access is off and
// the Function App reaches it with its managed identity (roles in rbac.bicep).
param name string
param location string = resourceGroup().location
param tags object = {}
param deploymentContainerName string
@minValue(1)
@maxValue(100)
@description('Years the audit copies of journal runs are kept: immutable that long, then deleted.')
param auditRetentionYears int = 7

var auditContainerName = 'audit'
// Leap days included, so a document is never deleted before its legal retention ends.
var auditRetentionDays = auditRetentionYears * 365 + auditRetentionYears / 4 + 1

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

// The audit copy of every journal run (shared/store/audit_copies.py): what Loket returned, what was sent
// to AFAS and AFAS's answer. Immutable: the app writes with overwrite=False, and a time-based
// retention policy keeps every blob from being changed or deleted for the retention period.
resource auditContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobServices
  name: auditContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource auditImmutability 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = {
  parent: auditContainer
  name: 'default'
  properties: {
    immutabilityPeriodSinceCreationInDays: auditRetentionDays
    allowProtectedAppendWrites: false
  }
}

// Delete audit documents once the retention period is over (the immutability has then ended).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'audit-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${auditContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterCreationGreaterThan: auditRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output auditContainerName string = auditContainer.name
